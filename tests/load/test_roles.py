"""A run's role is a class, picked in one place; the wire between roles imports no role."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from perflab.load.arrival import ArrivalRate, ArrivalSchedule
from perflab.load.distributed import open_model_of, open_model_share
from perflab.load.leading import LeadingRun
from perflab.load.local import LocalRun
from perflab.load.master import MasterRun
from perflab.load.roles import run_for
from perflab.load.runner import LoadRun, RunConfig
from perflab.load.worker import WorkerRun


@pytest.mark.parametrize(
    ("role", "cls"), [("local", LocalRun), ("master", MasterRun), ("worker", WorkerRun)]
)
def test_each_role_is_its_own_class_over_one_base(role, cls):
    run = run_for(RunConfig(locustfile=Path("lf.py"), host="http://127.0.0.1:1", role=role),
                  Console(quiet=True))  # fmt: skip
    assert type(run) is cls and isinstance(run, LoadRun)
    assert isinstance(run, LeadingRun) is (role != "worker")  # a worker writes no results


def test_a_worker_measures_and_a_master_adds_it_up():
    config = RunConfig(locustfile=Path("lf.py"), host="http://127.0.0.1:1")
    worker = run_for(RunConfig(**{**vars(config), "role": "worker"}), Console(quiet=True))
    master = run_for(RunConfig(**{**vars(config), "role": "master"}), Console(quiet=True))
    worker.stats.record("GET", "/a", 12.0, at=100.0)
    worker.stats.record("GET", "/a", 30.0, error="HTTPError: 500", at=100.0)
    assert master.add_measured("worker-1", worker.measured()) is None  # closed model
    [endpoint] = master.stats.endpoints()
    assert (endpoint["requests"], endpoint["failures"]) == (2, 1)
    assert worker.stats.endpoints() == []  # sent once, then forgotten


def test_a_workers_task_errors_reach_its_master():
    config = RunConfig(locustfile=Path("lf.py"), host="http://127.0.0.1:1")
    worker = run_for(RunConfig(**{**vars(config), "role": "worker"}), Console(quiet=True))
    master = run_for(RunConfig(**{**vars(config), "role": "master"}), Console(quiet=True))
    for _ in range(3):
        worker._on_user_error(None, KeyError("account"), None)
    master.add_measured("worker-1", worker.measured())
    worker._on_user_error(None, KeyError("account"), None)
    master.add_measured("worker-1", worker.measured())
    assert master.user_errors == {"KeyError: 'account'": 4}  # each counted once
    assert worker.user_errors == {}


def test_a_worker_runs_the_share_of_the_schedule_its_master_gave_it():
    rate = ArrivalRate.parse("10:50:30s")
    model = open_model_of(open_model_share(rate, 40, 1, 3))
    assert model.max_in_flight == 40
    share = ArrivalSchedule(rate, 1, 3)
    assert [model.schedule.due(k) for k in range(5)] == [share.due(k) for k in range(5)]


def test_the_wire_and_the_roles_import_no_cycle():
    code = (
        "import sys, perflab.load.distributed, perflab.load.runner\n"
        "print(sorted(m for m in sys.modules if m in ('perflab.load.runner', "
        "'perflab.load.roles', 'perflab.load.master', 'perflab.load.worker')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['perflab.load.runner']"  # neither pulls in a role
