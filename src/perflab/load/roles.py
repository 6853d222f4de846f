"""Which ``LoadRun`` a run's role is: the one place ``RunConfig.role`` is read."""

from __future__ import annotations

from rich.console import Console

from perflab.load.local import LocalRun
from perflab.load.master import MasterRun
from perflab.load.runner import LoadRun, RunConfig
from perflab.load.worker import WorkerRun

ROLES: dict[str, type[LoadRun]] = {"local": LocalRun, "master": MasterRun, "worker": WorkerRun}


def run_for(config: RunConfig, console: Console) -> LoadRun:
    """The run this process plays: local, master of workers, or a worker of a master."""
    return ROLES[config.role](config, console)
