"""Which ``LoadRun`` a run's role is: the one place ``RunConfig.role`` is read."""

from __future__ import annotations

from argparse import Namespace

from rich.console import Console

from perflab.load.local import LocalRun
from perflab.load.master import MasterRun
from perflab.load.runner import LoadRun, RunConfig
from perflab.load.scenario import Scenario
from perflab.load.worker import WorkerRun

ROLES: dict[str, type[LoadRun]] = {"local": LocalRun, "master": MasterRun, "worker": WorkerRun}


def run_for(
    config: RunConfig, console: Console, scenario: Scenario | None = None,
    parsed_options: Namespace | None = None,
) -> LoadRun:  # fmt: skip
    """The run this process plays: local, master of workers, or a worker of a master; with
    Locust's web UI starting and stopping its tests, or headless."""
    if config.web:
        from perflab.load.web_run import web_run_class

        return web_run_class(ROLES[config.role])(config, console, scenario, parsed_options)
    return ROLES[config.role](config, console, scenario, parsed_options)
