"""``LocalRun``: one process spawns the users and measures them (Locust's ``LocalRunner``)."""

from __future__ import annotations

import time

from perflab.load.arrival import OpenModel
from perflab.load.leading import LeadingRun
from perflab.load.results import RunDirectory


class LocalRun(LeadingRun):
    def _create_runner(self, run_dir: RunDirectory | None):
        config = self.config
        if config.arrival_rate:
            self.open_model = OpenModel(config.arrival_rate, config.max_in_flight)
            self.env.user_classes = self.open_model.wrap(self.user_classes)
        return self.env.create_local_runner()

    def _start_open_model(self) -> None:
        self.env.events.spawning_complete.add_listener(self._start_schedule)

    def _start_schedule(self, user_count: int, **_kwargs) -> None:
        """The schedule's time zero: every user is ready."""
        if not self.open_model.has_started:
            self.open_model.start()
            self.schedule_started_epoch = time.time()

    def _stop_users(self) -> float:
        if self.open_model is not None:
            self.open_model.stop()
        self.runner.stop()
        return time.time()

    def _open_snapshots(self) -> list[dict[str, float]]:
        return [self.open_model.snapshot()] if self.open_model is not None else []

    def _gauges(self, now: float) -> None:
        super()._gauges(now)
        self.stats.set_gauge("in_flight", self.tracker.in_flight, now)
