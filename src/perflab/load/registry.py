"""A load-test run registered in the probe's store (``--store``), for the dashboard's Runs page.

The run is saved when its load starts (``running``, so the dashboard knows a test is live) and
again with its outcome. Every X-Request-ID the run sends starts with its ``request_id_prefix``
(``perflab.load.client``), which is how the dashboard links a recorded request to its run.

Registering is a courtesy to the dashboard: a store that is locked, full or gone costs one
warning line, never the run or its figures.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from perflab.load.client import request_id_prefix
from perflab.load.results import RunResults
from perflab.probe.database import StoreUnavailable
from perflab.probe.masking import MASK, redact_url

REPORT_FILE = "report.html"  # where `perflab run --report` and the web UI write the report
# Options whose value is a secret: masked in the command line the store keeps.
SECRET_OPTIONS = frozenset({"--web-login"})


def new_run_id() -> str:
    """Eight hex digits: a run's id, and the middle of its requests' ids."""
    return os.urandom(4).hex()


def masked_command(argv: Sequence[str]) -> str:
    """The command line as a person could paste it, with URL credentials and secret option
    values masked."""
    words, hide_next = [], False
    for word in argv:
        if hide_next:
            word, hide_next = MASK, False
        elif word in SECRET_OPTIONS:
            hide_next = True
        elif "=" in word and word.split("=", 1)[0] in SECRET_OPTIONS:
            word = word.split("=", 1)[0] + "=" + MASK
        elif "://" in word:
            word = redact_url(word)
        words.append(word)
    return shlex.join(words)


class RunRegistry:
    """Saves one process's runs (a headless run, or each test of the web UI) in a store file."""

    def __init__(self, store: str | None, host: str | None, command: str, console: Console):
        self.store = store
        self.host = redact_url(host) if host else ""
        self.command = command
        self.console = console
        self._warned = False

    def started(self, run_id: str, started: float, run_dir: Path | None) -> None:
        self._save(run_id, started, None, "running", None, 0, 0, None, run_dir)

    def ended(
        self, run_id: str, started: float, ended: float, results: RunResults,
        run_dir: Path | None,
    ) -> None:  # fmt: skip
        totals = results.totals
        verdict = results.verdict if results.verdict in ("pass", "fail") else None
        self._save(
            run_id, started, ended, results.status, verdict, totals.requests, totals.failures,
            totals.latency.p95 if totals.requests else None, run_dir,
        )  # fmt: skip

    def _save(
        self, run_id: str, started: float, ended: float | None, status: str,
        verdict: str | None, requests: int, failures: int, p95_ms: float | None,
        run_dir: Path | None,
    ) -> None:  # fmt: skip
        if self.store is None:
            return
        from perflab.probe.store import RecordingStore
        from perflab.probe.store.schema import RunRow

        out_dir = str(run_dir.resolve()) if run_dir is not None else None
        row = RunRow(
            run_id=run_id, started=started, ended=ended, host=self.host, status=status,
            verdict=verdict, requests=requests, failures=failures, p95_ms=p95_ms,
            out_dir=out_dir, report=str(Path(out_dir) / REPORT_FILE) if out_dir else None,
            request_id_prefix=request_id_prefix(run_id), command=self.command,
        )  # fmt: skip
        store = RecordingStore.at_path(self.store)
        try:
            store.save_run(row)
        except (StoreUnavailable, sqlite3.Error, OSError) as exc:
            if not self._warned:  # once: the run goes on, its figures are not at stake
                self._warned = True
                why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.console.print(
                    f"[yellow]warning:[/] the run is not registered in the store "
                    f"{escape(self.store)}: {escape(why)}",
                    highlight=False,
                    soft_wrap=True,
                )
        finally:
            store.database.close()
