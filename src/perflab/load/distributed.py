"""What a master and its workers say to each other beyond Locust's protocol, and worker
processes started on this machine.

Each worker adds what it measured (``LoadRun.measured``) to Locust's own
``report_to_master`` payload under ``REPORT_KEY``; the master adds it to its figures (HDR
histograms merge exactly). In the open model the master tells each worker its share of the
arrival schedule. At the end each worker sends what it measured in one last message and
exits. ``--workers N`` starts N worker processes here; ``--master``/``--worker`` spread them
over machines. The roles themselves are ``perflab.load.master`` and ``perflab.load.worker``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from perflab.load.arrival import ArrivalRate, OpenModel

REPORT_KEY = "perflab"  # perflab's figures in a Locust worker report
REPORT_INTERVAL_S = 1.0  # Locust workers report every 3 s by default; the live view wants 1 s
OPEN_MODEL_MESSAGE = "perflab_open_model"
STOP_ARRIVALS_MESSAGE = "perflab_stop_arrivals"  # open model: no arrival is due after this
WORKER_STOPPED_MESSAGE = "perflab_worker_stopped"  # a worker's last figures, once its users stopped
LAST_MESSAGE_LINGER_S = 2.0  # a worker's exit waits this long, at most, to deliver its last
MASTER_PORT = 5557  # where workers find the master unless told otherwise (Locust's default)


def open_model_share(rate: ArrivalRate, max_in_flight: int, index: int, count: int) -> dict:
    """The OPEN_MODEL_MESSAGE for worker ``index`` of ``count``: its share of one schedule."""
    return {"start": rate.start, "end": rate.end, "ramp_s": rate.ramp_s,
            "max_in_flight": max_in_flight, "index": index, "count": count}  # fmt: skip


def open_model_of(share: dict[str, Any]) -> OpenModel:
    """A worker's open model from its OPEN_MODEL_MESSAGE."""
    rate = ArrivalRate(share["start"], share["end"], share["ramp_s"])
    return OpenModel(
        rate, share["max_in_flight"], share_index=share["index"], share_count=share["count"]
    )


# Set in the environment of the workers ``LocalWorkers`` starts: a terminal's Ctrl-C reaches
# them with their master, which ends them in order (their last figures first). A worker that
# quit on its own at the same moment would be taken by Locust's master, still running, as a
# worker lost mid-test, and its users handed to the others.
LOCAL_WORKER_ENV = "PERFLAB_LOCAL_WORKER"


class LocalWorkers:
    """``perflab run --worker`` processes on this machine, logging into the run directory."""

    def __init__(self, processes: list[subprocess.Popen] | None = None) -> None:
        self.processes = processes or []

    @classmethod
    def start(
        cls, count: int, master_port: int, locustfile: Path, host: str | None,
        user_classes: tuple[str, ...], log_dir: Path | None,
    ) -> LocalWorkers:  # fmt: skip
        processes = []
        # A worker reads the same locust.conf and LOCUST_* variables; never a master's mode.
        env = {k: v for k, v in os.environ.items() if k != "LOCUST_MODE_MASTER"}
        env[LOCAL_WORKER_ENV] = "1"
        for index in range(count):
            command = [
                sys.executable, "-m", "perflab", "run", "--worker", "--headless", "--quiet",
                "--master-host", "127.0.0.1", "--master-port", str(master_port),
                "-f", str(locustfile), *(["--host", host] if host else []), *user_classes,
            ]  # fmt: skip
            log_path = log_dir / f"worker-{index}.log" if log_dir else os.devnull
            with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
                processes.append(
                    subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
                )
        return cls(processes)

    def exited(self) -> list[subprocess.Popen]:
        return [process for process in self.processes if process.poll() is not None]

    @property
    def all_exited(self) -> bool:
        """True once every local worker has exited (False when there are none)."""
        return bool(self.processes) and len(self.exited()) == len(self.processes)

    def wait(self, timeout_s: float = 15.0) -> None:
        """Each process gets ``timeout_s`` to leave by itself, then is killed."""
        for process in self.processes:
            try:
                process.wait(timeout=timeout_s)
            except Exception:
                process.kill()

    def end(self) -> None:
        """The run never started: no worker is left waiting for it."""
        for process in self.processes:
            process.terminate()
        self.wait(timeout_s=5.0)
