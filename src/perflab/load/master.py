"""``MasterRun``: the users run in worker processes; this one merges what they measured.

It waits for its workers, gives each its share of the open model's schedule, adds every
worker's report to its own figures, and ends the run with Locust's ``quit``: on ``stop`` a
Locust worker is unregistered and then sleeps ``--stop-timeout`` before it reads messages
again, so a ``quit`` after the ``stop`` reached no one and its reports meanwhile were
discarded as an unknown worker's. A perflab worker answers ``quit`` with its last figures
(``perflab.load.worker``); the run's load ends when the last of them says its users stopped.
"""

from __future__ import annotations

import logging
import time
from argparse import Namespace

import gevent
from rich.console import Console

from perflab.errors import ExitCode, PerflabError
from perflab.load.distributed import (
    OPEN_MODEL_MESSAGE,
    REPORT_INTERVAL_S,
    REPORT_KEY,
    STOP_ARRIVALS_MESSAGE,
    WORKER_STOPPED_MESSAGE,
    LocalWorkers,
    open_model_share,
)
from perflab.load.leading import LeadingRun
from perflab.load.results import RunDirectory
from perflab.load.runner import RunConfig
from perflab.load.scenario import Scenario

WORKER_WAIT_S = 60.0
STOP_GRACE_S = 5.0  # beyond --stop-timeout, for a worker's last message to arrive
logger = logging.getLogger("perflab.run")


class MasterRun(LeadingRun):
    stats_window_s = 5.0  # workers' reports arrive up to a report interval late
    gauge_source = "master"

    def __init__(
        self, config: RunConfig, console: Console, scenario: Scenario | None = None,
        parsed_options: Namespace | None = None,
    ) -> None:  # fmt: skip
        super().__init__(config, console, scenario, parsed_options)
        self.workers = LocalWorkers()
        self._worker_open: dict[str, dict] = {}  # client id -> its open model's last snapshot
        self._workers_stopped: dict[str, float] = {}  # client id -> its last message, when

    def _create_runner(self, run_dir: RunDirectory | None):
        import locust.runners

        config = self.config
        locust.runners.WORKER_REPORT_INTERVAL = REPORT_INTERVAL_S
        runner = self.env.create_master_runner(config.master_bind, config.master_port)
        self.env.events.worker_report.add_listener(self._on_worker_report)
        runner.register_message(WORKER_STOPPED_MESSAGE, self._on_worker_stopped)
        self.workers = LocalWorkers.start(
            config.workers, config.master_port, config.locustfile, config.host,
            config.user_classes, run_dir.path if run_dir else None,
        )  # fmt: skip
        return runner

    def _abandon(self) -> None:
        self.workers.end()  # the run never starts: no worker is left waiting for it

    def _await_ready(self) -> None:
        """Block until the expected workers said hello; a one-line error if they cannot
        (Locust's --expect-workers-max-wait, when given, instead of perflab's minute)."""
        runner = self.runner
        wanted = self.config.workers or self.config.expect_workers
        options = self.parsed_options
        wait_s = (options.expect_workers_max_wait if options else 0) or WORKER_WAIT_S
        deadline = time.monotonic() + wait_s
        while len(runner.clients.ready) < wanted:
            dead = self.workers.exited()
            if dead:
                raise PerflabError(
                    f"a worker process exited with code {dead[0].returncode} before the run "
                    "started (see worker-*.log in the run directory)",
                    ExitCode.FAILED,
                )
            if time.monotonic() > deadline:
                raise PerflabError(
                    f"only {len(runner.clients.ready)} of {wanted} workers connected within "
                    f"{wait_s:g}s",
                    ExitCode.FAILED,
                )
            gevent.sleep(0.1)

    def _start_open_model(self) -> None:
        """Each worker runs its share (index i of n) of one global arrival schedule."""
        runner = self.runner
        clients = sorted(runner.clients.ready, key=lambda c: runner.get_worker_index(c.id))
        for index, client in enumerate(clients):
            share = open_model_share(
                self.config.arrival_rate, self.config.max_in_flight, index, len(clients)
            )
            runner.send_message(OPEN_MODEL_MESSAGE, share, client_id=client.id)

    def _stop_users(self) -> float:
        """End the load on every worker and wait, bounded, for each one's last figures;
        return when the last worker's users had stopped."""
        runner = self.runner
        stopped = self._workers_stopped
        runner.stop(send_stop_to_client=False)  # the master's own state; ends a shape's greenlet
        # Before the quit: Locust's stop() walks the stack with inspect (~0.1 s) before any
        # hook runs, and arrivals falling due meanwhile would count as dropped.
        runner.send_message(STOP_ARRIVALS_MESSAGE)
        runner.send_message("quit")  # each worker stops its users, sends its last message, exits
        deadline = time.monotonic() + self.config.stop_timeout_s + STOP_GRACE_S
        while True:
            # Looked at before the pause: what a worker sent before exiting is read during it.
            gone = self.workers.all_exited
            gevent.sleep(0.02)
            waiting = self._without_last_message()
            if not waiting:
                return max(stopped.values(), default=time.time())
            if gone or time.monotonic() > deadline:
                break
        logger.warning(
            "%d worker(s) sent no last message: what they measured since their last report "
            "is lost", len(waiting),
        )  # fmt: skip
        if gone:  # every local worker exited: the load ended with the last one that said so
            return max(stopped.values(), default=time.time())
        return time.time()  # a worker that did not answer may have been loading until now

    def _release(self) -> None:
        self.workers.wait()

    def _begin_test(self) -> None:
        self._workers_stopped.clear()
        self._worker_open.clear()

    def _await_last_figures(self) -> float:
        """Every worker Locust's stop reached sends its last figures, then stays for the
        next test (the web UI's workers do not exit)."""
        deadline = time.monotonic() + self.config.stop_timeout_s + STOP_GRACE_S
        while time.monotonic() < deadline:
            if not self._without_last_message():
                return max(self._workers_stopped.values(), default=time.time())
            gevent.sleep(0.05)
        logger.warning("a worker sent no last message: its last second is lost")
        return time.time()

    def _without_last_message(self) -> list:
        """The connected workers whose last figures have not come yet."""
        from locust.runners import STATE_MISSING

        return [
            client for client in self.runner.clients.all
            if client.id not in self._workers_stopped and client.state != STATE_MISSING
        ]  # fmt: skip

    def _open_snapshots(self) -> list[dict[str, float]]:
        return list(self._worker_open.values())

    def _lost(self) -> str | None:
        return None if self.runner.clients.all else "every worker disconnected"

    def _on_worker_report(self, client_id: str, data: dict) -> None:
        measured = data.get(REPORT_KEY)
        if measured:
            self._add_worker(client_id, measured)

    def _on_worker_stopped(self, environment, msg, **_kwargs) -> None:
        """A worker's users stopped: its last figures, and when (this clock) the load ended."""
        self._add_worker(msg.node_id, msg.data)
        self._workers_stopped[msg.node_id] = time.time()

    def _add_worker(self, client_id: str, measured: dict) -> None:
        snapshot = self.add_measured(client_id, measured)
        if snapshot is not None:
            self._worker_open[client_id] = snapshot
