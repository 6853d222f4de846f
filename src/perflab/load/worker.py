"""``WorkerRun``: users run here as the master says; what they measure goes to the master.

A perflab worker serves one run. It adds what it measured to every Locust report; once its
users have stopped (the master's ``stop`` or ``quit``, a SIGTERM, or a SIGINT unless its
master started it) it sends everything it measured since in one last message, then exits.
Locust's own worker would instead wait ``--stop-timeout`` after a ``stop`` and offer itself
for another test, unregistered meanwhile: the master's ``quit`` then reached no one and its
reports came from a worker the master had forgotten.
"""

from __future__ import annotations

import os
import signal
from argparse import Namespace

import gevent
from rich.console import Console

from perflab.load.distributed import (
    LAST_MESSAGE_LINGER_S,
    LOCAL_WORKER_ENV,
    OPEN_MODEL_MESSAGE,
    REPORT_INTERVAL_S,
    REPORT_KEY,
    STOP_ARRIVALS_MESSAGE,
    WORKER_STOPPED_MESSAGE,
    open_model_of,
)
from perflab.load.results import RunDirectory
from perflab.load.runner import LoadRun, RunConfig, RunOutcome
from perflab.load.scenario import Scenario


class WorkerRun(LoadRun):
    log_name = "worker.log"

    def __init__(
        self, config: RunConfig, console: Console, scenario: Scenario | None = None,
        parsed_options: Namespace | None = None,
    ) -> None:  # fmt: skip
        super().__init__(config, console, scenario, parsed_options)
        self._stopped = False  # the last message is sent: nothing more to report
        self.tag = os.urandom(2).hex()  # this worker's part of the run's request ids

    def _run(self, run_dir: RunDirectory | None, shape) -> RunOutcome:
        import locust.runners

        locust.runners.WORKER_REPORT_INTERVAL = REPORT_INTERVAL_S
        config = self.config
        self.runner = runner = self.env.create_worker_runner(config.master_host, config.master_port)
        runner.register_message(OPEN_MODEL_MESSAGE, self._on_open_model)
        runner.register_message(STOP_ARRIVALS_MESSAGE, self._stop_arrivals)
        events = self.env.events
        events.spawning_complete.add_listener(self._on_spawned)
        events.report_to_master.add_listener(self._on_report)
        events.test_stopping.add_listener(self._stop_arrivals)  # a stop the master did not send
        events.test_stop.add_listener(self._on_stopped)
        events.test_start.add_listener(self._on_started)
        gevent.signal_handler(signal.SIGTERM, runner.quit)
        # A terminal's Ctrl-C reaches workers too; one its master started leaves it to the master.
        local = os.environ.get(LOCAL_WORKER_ENV) == "1"
        gevent.signal_handler(signal.SIGINT, (lambda: None) if local else runner.quit)
        self._fire_init()
        runner.greenlet.join()
        self._fire_quitting()
        self.env.events.quit.fire(exit_code=0)
        # The last message may still be queued: close the socket and let zmq deliver it
        # (bounded) rather than lose it with the process.
        runner.client.close(linger=int(LAST_MESSAGE_LINGER_S * 1000))
        runner.client.socket.context.term()
        return RunOutcome(status="completed", results=None)

    def _on_open_model(self, environment, msg, **_kwargs) -> None:
        """This worker's share of the schedule; sent before any user starts."""
        self.open_model = open_model_of(msg.data)
        self._measure_service_apart()
        environment.user_classes = self.open_model.wrap(self.user_classes)

    def _on_spawned(self, user_count: int, **_kwargs) -> None:
        if self.open_model is not None and not self.open_model.has_started:
            self.open_model.start()  # this worker's users are all ready

    def _on_report(self, client_id: str, data: dict) -> None:
        if not self._stopped:  # after the last message there is nothing more to say
            data[REPORT_KEY] = self.measured()

    def _stop_arrivals(self, **_kwargs) -> None:
        if self.open_model is not None:
            self.open_model.stop()  # as a local run does, before its users stop

    def _on_started(self, **_kwargs) -> None:
        self._stopped = False  # the web UI's next test
        run_id = getattr(self.env.parsed_options, "perflab_run_id", None)
        if run_id:  # the master's run (its spawn message just updated parsed_options)
            self.tracker.for_run(run_id, process=self.tag)
        if not self.config.host and self.env.host and self.grouper is None:
            # Started without -H: the master's spawn message named the target just now.
            self._learn_routes(self.env.host)

    def _on_stopped(self, **_kwargs) -> None:
        self._stopped = True
        self.runner.send_message(WORKER_STOPPED_MESSAGE, self.measured())
        if getattr(self.env.parsed_options, "perflab_web", False):
            return  # Locust's web UI may start another test: stay, as Locust's worker does
        # Leave at the next switch: the greenlets end before Locust's worker sleeps
        # --stop-timeout or sends another report.
        self.runner.greenlet.kill(block=False)
