"""Locust's master/worker mode with perflab's statistics riding on the workers' reports.

Each worker drains its LoadStats and request samples into Locust's own ``report_to_master``
payload; the master merges them (HDR histograms merge exactly). ``--workers N`` starts N
worker processes on this machine; ``--master``/``--worker`` spread them over machines.
In the open model the master tells each worker its share of the arrival schedule. At the
end each worker sends what it measured in one last message and exits; the run's duration
ends when the last worker's users stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import gevent

from perflab.errors import ExitCode, PerflabError
from perflab.load.arrival import ArrivalRate, OpenModel
from perflab.load.stats import LoadStats

if TYPE_CHECKING:
    from perflab.load.results import RunDirectory
    from perflab.load.runner import LoadRun, RunConfig

OPEN_MODEL_MESSAGE = "perflab_open_model"
STOP_ARRIVALS_MESSAGE = "perflab_stop_arrivals"  # open model: no arrival is due after this
WORKER_STOPPED_MESSAGE = "perflab_worker_stopped"  # a worker's last figures, once its users stopped
LAST_MESSAGE_LINGER_S = 2.0  # a worker's exit waits this long, at most, to deliver its last
MASTER_PORT = 5557  # where workers find the master unless told otherwise (Locust's default)
WORKER_WAIT_S = 60.0
logger = logging.getLogger("perflab.run")


def start_local_workers(config: RunConfig, run_dir: RunDirectory | None) -> list:
    """``perflab run --worker`` processes on this machine, logging into the run directory."""
    processes = []
    for index in range(config.workers):
        command = [
            sys.executable, "-m", "perflab", "run", "--worker", "--quiet",
            "--master-host", "127.0.0.1", "--master-port", str(config.master_port),
            "-f", str(config.locustfile), "--host", config.host, *config.user_classes,
        ]  # fmt: skip
        log_path = run_dir.path / f"worker-{index}.log" if run_dir else os.devnull
        with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
            processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
    return processes


def await_workers(runner, config: RunConfig, processes: list) -> None:
    """Block until the expected workers said hello; a one-line error if they cannot."""
    wanted = config.workers or config.expect_workers
    deadline = time.monotonic() + WORKER_WAIT_S
    while len(runner.clients.ready) < wanted:
        dead = [p for p in processes if p.poll() is not None]
        if dead:
            raise PerflabError(
                f"a worker process exited with code {dead[0].returncode} before the run "
                "started (see worker-*.log in the run directory)",
                ExitCode.FAILED,
            )
        if time.monotonic() > deadline:
            raise PerflabError(
                f"only {len(runner.clients.ready)} of {wanted} workers connected within "
                f"{WORKER_WAIT_S:.0f}s",
                ExitCode.FAILED,
            )
        gevent.sleep(0.1)


def send_open_model(runner, config: RunConfig) -> None:
    """Each worker runs its share (index i of n) of one global arrival schedule."""
    clients = sorted(runner.clients.ready, key=lambda c: runner.get_worker_index(c.id))
    rate = config.arrival_rate
    for index, client in enumerate(clients):
        runner.send_message(
            OPEN_MODEL_MESSAGE,
            {
                "start": rate.start,
                "end": rate.end,
                "ramp_s": rate.ramp_s,
                "max_in_flight": config.max_in_flight,
                "index": index,
                "count": len(clients),
            },
            client_id=client.id,
        )


def stop_workers(runner, stopped: dict[str, float], timeout_s: float, processes: list) -> float:
    """End the load on every worker and wait, bounded, for each one's last figures.

    ``stopped`` fills in as workers' last messages arrive (client id -> when, this clock).
    Locust's ``quit``, not ``stop``: a stopped Locust worker is unregistered, then waits
    ``--stop-timeout`` before it reads messages again, so a ``quit`` after the ``stop``
    reached no one and its reports meanwhile were discarded as an unknown worker's. Returns
    when the last worker's users had stopped: the end of the run's load.
    """
    from locust.runners import STATE_MISSING

    runner.stop(send_stop_to_client=False)  # the master's own state; ends a shape's greenlet
    # Before the quit: Locust's stop() walks the stack with inspect (~0.1 s) before any hook
    # runs, and arrivals falling due meanwhile would count as dropped.
    runner.send_message(STOP_ARRIVALS_MESSAGE)
    runner.send_message("quit")  # each worker stops its users, sends its last message, exits
    deadline = time.monotonic() + timeout_s
    while True:
        # Looked at before the pause: what a worker sent before exiting is read during it.
        gone = bool(processes) and all(process.poll() is not None for process in processes)
        gevent.sleep(0.02)
        waiting = [
            client for client in runner.clients.all
            if client.id not in stopped and client.state != STATE_MISSING
        ]  # fmt: skip
        if not waiting:
            return max(stopped.values(), default=time.time())
        if gone or time.monotonic() > deadline:
            break
    logger.warning(
        "%d worker(s) sent no last message: what they measured since their last report is "
        "lost", len(waiting),
    )  # fmt: skip
    if gone:  # every local worker exited: the load ended with the last one that said so
        return max(stopped.values(), default=time.time())
    return time.time()  # a worker that did not answer may have been loading until now


def serve_as_worker(run: LoadRun) -> None:
    """Run users as the master says; report perflab's figures with every Locust report.

    A perflab worker serves one run. Once its users have stopped (the master's ``stop`` or
    ``quit``, or a SIGINT/SIGTERM here) it sends everything it measured in one last message,
    then exits. Locust's own worker would instead wait ``--stop-timeout`` after a ``stop``
    and offer itself for another test, unregistered meanwhile: the master's ``quit`` then
    reached no one and its reports came from a worker the master had forgotten.
    """
    import locust.runners

    locust.runners.WORKER_REPORT_INTERVAL = 1.0
    config = run.config
    runner = run.env.create_worker_runner(config.master_host, config.master_port)
    run.runner = runner
    stopped = False

    def on_open_model(environment, msg, **_kwargs) -> None:
        data = msg.data
        rate = ArrivalRate(data["start"], data["end"], data["ramp_s"])
        model = OpenModel(
            rate, data["max_in_flight"], share_index=data["index"], share_count=data["count"]
        )
        run.open_model = model
        run.stats = LoadStats(separate_service=True)  # latency and service time now differ
        environment.user_classes = model.wrap(run._original_user_classes)

    def on_spawned(user_count: int, **_kwargs) -> None:
        if run.open_model is not None and not run.open_model.has_started:
            run.open_model.start()  # this worker's users are all ready

    def measured() -> dict:
        now = time.time()
        run.fold()
        run.stats.set_gauge("in_flight", run.tracker.in_flight, now)
        open_snapshot = run.open_model.snapshot() if run.open_model else None  # its own clock
        return {"stats": run.stats.drain(), "samples": run.samples.drain(), "open": open_snapshot}

    def on_report(client_id: str, data: dict) -> None:
        if not stopped:  # after the last message there is nothing more to say
            data["perflab"] = measured()

    def stop_arrivals(**_kwargs) -> None:
        if run.open_model is not None:
            run.open_model.stop()  # as a local run does, before its users stop

    def on_stopped(**_kwargs) -> None:
        nonlocal stopped
        stopped = True
        runner.send_message(WORKER_STOPPED_MESSAGE, measured())
        # Leave at the next switch: the greenlets end before Locust's worker sleeps
        # --stop-timeout or sends another report.
        runner.greenlet.kill(block=False)

    runner.register_message(OPEN_MODEL_MESSAGE, on_open_model)
    runner.register_message(STOP_ARRIVALS_MESSAGE, stop_arrivals)
    run.env.events.spawning_complete.add_listener(on_spawned)
    run.env.events.report_to_master.add_listener(on_report)
    run.env.events.test_stopping.add_listener(stop_arrivals)  # a stop the master did not send
    run.env.events.test_stop.add_listener(on_stopped)
    for signum in (signal.SIGINT, signal.SIGTERM):  # a terminal's Ctrl-C reaches workers too
        gevent.signal_handler(signum, runner.quit)
    runner.greenlet.join()
    # The last message may still be queued: close the socket and let zmq deliver it
    # (bounded) rather than lose it with the process.
    runner.client.close(linger=int(LAST_MESSAGE_LINGER_S * 1000))
    runner.client.socket.context.term()
