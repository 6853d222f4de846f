"""``Perf``: the ``perf`` fixture's object, one per test.

It knows the test (its module's file and its name within the module), which is what a
snapshot needs to find its file and its entry; budgets and captures need nothing of the
test. Time budgets and snapshots are imported when first used: a suite that only counts
statements never loads them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from perflab.budgets.budget import Budget
from perflab.budgets.capture import TEST_NPLUSONE_THRESHOLD, Capture

__all__ = ["Perf"]


class Perf:
    """``perf.budget(queries=3)``, ``perf.capture()``, ``perf.assert_fast(fn, p50_ms=…)``,
    ``perf.snapshot()``: the test suite's performance checks for one test."""

    def __init__(self, test_file: Path, test_name: str, update: bool = False) -> None:
        self.test_file = Path(test_file)
        self.test_name = test_name  # within its module: "TestX.test_y[param]"
        self.update = update  # rewrite snapshots (--perflab-update, PERFLAB_UPDATE_SNAPSHOTS=1)

    def __repr__(self) -> str:
        return f"<Perf {self.test_file.name}::{self.test_name}>"

    def budget(self, **limits: Any) -> Budget:
        """A context manager yielding the ``Capture`` of its block, checked on exit against
        ``limits`` (``queries``, ``n_plus_one``, ``duplicates``, ``db_ms``, ``using``,
        ``threshold``): ``BudgetExceeded`` explains an overrun."""
        return Budget(**limits)

    def capture(self, threshold: int = TEST_NPLUSONE_THRESHOLD) -> Capture:
        """A plain capture, no limits: read ``.queries``, ``.requests``, ``.findings``."""
        return Capture(threshold=threshold)

    def assert_fast(self, fn: Callable[[], object], **options: Any) -> Any:
        """``perflab.budgets.timing.assert_fast(fn, **options)``: warm-up, repeats, a
        percentile against ``p50_ms``/``p90_ms``/``p95_ms``/``p99_ms``."""
        __tracebackhide__ = True
        from perflab.budgets.timing import assert_fast

        return assert_fast(fn, **options)

    def snapshot(self, name: str | None = None) -> Any:
        """A context manager yielding the ``Capture`` of its block, compared with (or, when
        updating, written to) the test module's ``.perf.yml``. ``name`` tells several
        snapshots of one test apart: the entry is ``<test name>.<name>``."""
        from perflab.budgets.snapshot import Snapshot

        test_name = self.test_name if name is None else f"{self.test_name}.{name}"
        return Snapshot(self.test_file, test_name, self.update)
