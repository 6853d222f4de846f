"""A step's verdict: SLOs as `perflab run` judges them, plus keeping up with the arrivals."""

from __future__ import annotations

from perflab.capacity.step import judge_step
from perflab.load.results import RunResults
from perflab.load.slo import parse_slo
from tests.capacity.helpers import results

P95 = (parse_slo("p95<100ms"),)


def judge(data: RunResults, slos=P95, monitor=(), rate: float = 50):
    return judge_step(1, "ramp", rate, "", data, monitor, slos)


def test_a_step_that_keeps_up_within_its_slos_passes():
    step = judge(results(50))
    assert step.passed and step.reasons == []
    assert step.achieved_rate == 50
    assert step.p95 == 12


def test_an_slo_breach_fails_the_step_with_its_detail():
    step = judge(results(50, p95=150))
    assert not step.passed
    assert step.reasons == ["p95 150.0 ms >= 100 ms"]


def test_an_overloaded_open_model_step_fails_without_any_slo():
    # 150/s due for 4 s, but only 100/s completed (the run drained for 2 s more).
    data = results(150, completed=600)
    data.duration_s = 6.0
    step = judge(data, slos=(), rate=150)
    assert not step.passed
    assert step.achieved_rate == 100
    assert "achieved 100.0/s < 90% of 150/s" in step.reasons[0]


def test_many_late_or_dropped_starts_fail_the_step():
    step = judge(results(50, late=15, dropped=10), slos=())
    assert not step.passed
    assert "15 late + 10 never started of 200 due" in step.reasons[-1]


def test_monitor_rows_give_cpu_and_a_full_database_pool():
    monitor = [
        {"server_cpu_percent": "", "server_processes": "", "db_connections": "", "db_active": ""},
        {"server_cpu_percent": "150.5", "server_processes": "3", "db_connections": "10",
         "db_active": "10"},
        {"server_cpu_percent": "120", "server_processes": "3", "db_connections": "10",
         "db_active": "9"},
        {"server_cpu_percent": "90", "server_processes": "3", "db_connections": "10",
         "db_active": "10"},
    ]  # fmt: skip
    step = judge(results(50), monitor=monitor)
    assert step.server_cpu_max == 150.5
    assert step.server_processes == 3
    assert step.db_connections_max == 10
    assert step.db_saturated_seconds == 2
    assert step.cpus == 2
