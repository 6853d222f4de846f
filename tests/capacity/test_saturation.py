"""Which resource saturated first, judged on the lowest failing step."""

from __future__ import annotations

from perflab.capacity.saturation import judge_saturation
from tests.capacity.helpers import step


def test_nothing_saturated_when_every_step_passed():
    assert judge_saturation([step(10, 12), step(20, 12)]) is None


def test_server_cpu_near_all_cores():
    steps = [step(50, 20, server_cpu_max=120, server_processes=3, cpus=2),
             step(75, 300, passed=False, server_cpu_max=190, server_processes=3, cpus=2,
                  late=40)]  # fmt: skip
    saturation = judge_saturation(steps)
    assert saturation.resource == "server CPU"
    assert saturation.step_index == 75
    assert "190% of 200%" in saturation.evidence[0]
    assert any("late" in text for text in saturation.evidence)  # queueing kept as evidence


def test_a_single_process_server_saturates_at_one_core():
    steps = [step(50, 20), step(75, 300, passed=False, server_cpu_max=97, server_processes=1,
                                cpus=4)]  # fmt: skip
    assert judge_saturation(steps).resource == "server CPU"


def test_a_full_database_pool_comes_before_queueing():
    steps = [step(50, 20, server_cpu_max=60, cpus=2),
             step(75, 300, passed=False, server_cpu_max=80, cpus=2, db_connections_max=10,
                  db_saturated_seconds=4)]  # fmt: skip
    saturation = judge_saturation(steps)
    assert saturation.resource == "database connections"
    assert "all 10 database connections active for 4 s" in saturation.evidence[0]


def test_queueing_with_cpu_to_spare_is_workers_busy():
    steps = [step(90, 13, server_cpu_max=5), step(135, 1400, achieved=97, passed=False,
                                                  server_cpu_max=6)]  # fmt: skip
    saturation = judge_saturation(steps)
    assert saturation.resource == "workers busy (requests queue)"
    assert "p95 13 → 1400 ms" in saturation.evidence[0]


def test_the_lowest_failing_step_is_judged():
    steps = [step(90, 13), step(135, 1400, passed=False, error_rate=0.2),
             step(112, 14, passed=False, error_rate=0.05)]  # fmt: skip
    saturation = judge_saturation(steps)
    assert saturation.step_index == 112
    assert saturation.resource == "errors"


def test_unknown_when_the_failing_step_shows_no_signal():
    steps = [step(10, 13), step(15, 14, passed=False)]
    assert judge_saturation(steps).resource == "unknown"
