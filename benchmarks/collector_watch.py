"""Inside a served worker: how often the garbage collector is disabled, and how often it runs.

``gc.isenabled()`` cannot be read from another process, so ``store_lock_memory.py`` serves
the app with ``collector_watch_settings`` (the reference app's settings plus this watch): a
daemon thread samples ``gc.isenabled()`` every 10 ms and counts collections per generation
(``gc.callbacks``); every half second it appends one line to the file named by
``PERFLAB_BENCH_COLLECTOR_LOG``, and once more at exit:

    wall time, samples, samples with the collector disabled, young, middle, full collections

A window holds what happened since the previous line, so the benchmark can add up the
windows of each phase of its run (before, during and after a lock on the store). The
thread's own cost (a GIL acquisition every 10 ms) is the same for every configuration.
"""

from __future__ import annotations

import atexit
import gc
import os
import threading
import time
from pathlib import Path

SAMPLE_S = 0.010
WINDOW_S = 0.5
ENVIRONMENT = "PERFLAB_BENCH_COLLECTOR_LOG"


class CollectorWatch:
    """Samples ``gc.isenabled()`` and counts collections; writes a line per window."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self._lock = threading.Lock()
        self._samples = self._disabled = 0
        self._collections = [0, 0, 0]
        self._stop = threading.Event()

    def start(self) -> None:
        gc.callbacks.append(self._on_collection)
        threading.Thread(target=self._run, name="collector-watch", daemon=True).start()
        atexit.register(self.close)

    def _on_collection(self, phase: str, info: dict) -> None:
        if phase == "stop":
            self._collections[info["generation"]] += 1

    def _run(self) -> None:
        next_line = time.monotonic() + WINDOW_S
        while not self._stop.wait(SAMPLE_S):
            with self._lock:
                self._samples += 1
                self._disabled += not gc.isenabled()
            if time.monotonic() >= next_line:
                next_line += WINDOW_S
                self._write_window()

    def _write_window(self) -> None:
        with self._lock:
            counts = (self._samples, self._disabled, *self._collections)
            self._samples = self._disabled = 0
            self._collections = [0, 0, 0]
        with self.log.open("a") as out:
            out.write(f"{time.time():.3f} {' '.join(map(str, counts))}\n")

    def close(self) -> None:
        """At exit: the last, partial window."""
        self._stop.set()
        self._write_window()


def start_from_environment() -> CollectorWatch | None:
    """A watch writing to ``$PERFLAB_BENCH_COLLECTOR_LOG`` (one file per process: the pid is
    appended), or None when it is unset."""
    name = os.environ.get(ENVIRONMENT)
    if not name:
        return None
    watch = CollectorWatch(Path(f"{name}.{os.getpid()}"))
    watch.start()
    return watch
