"""``PerfTestMixin``: budgets, time budgets and snapshots for ``unittest`` and Django's
``TestCase``, under ``manage.py test`` as under pytest.

The same ``Budget``, ``assert_fast`` and ``Snapshot`` as the ``perf`` fixture; a failure
is the test's own (``self.fail``, so ``failureException`` applies) with the explained
message. Nothing here imports pytest.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from perflab.budgets.budget import Budget
from perflab.budgets.capture import TEST_NPLUSONE_THRESHOLD, Capture

__all__ = ["PerfTestMixin"]

# unittest leaves this module's frames out of a failure's traceback (as its own): the
# report shows the test's line, then the explained message.
__unittest = True


class PerfTestMixin:
    """Mix into a ``unittest.TestCase`` (or Django's): ``with self.assertPerfBudget(
    queries=3, n_plus_one=0): self.client.get(...)``."""

    def assertPerfBudget(self, **limits: Any) -> AbstractContextManager[Capture]:
        """The block's statements, N+1 groups, duplicates and database time within
        ``limits`` (``queries``, ``n_plus_one``, ``duplicates``, ``db_ms``, ``using``,
        ``threshold``); yields the ``Capture``. An error raised in the block is left as is."""
        return _BudgetBlock(self, Budget(**limits))

    def assertNoNPlusOne(
        self, threshold: int = TEST_NPLUSONE_THRESHOLD, using: str | None = None
    ) -> AbstractContextManager[Capture]:
        """No N+1 group in the block (``threshold`` statements from one place, default 2)."""
        return self.assertPerfBudget(n_plus_one=0, threshold=threshold, using=using)

    def assertFast(self, fn: Callable[[], object], **options: Any) -> Any:
        """``perflab.budgets.timing.assert_fast(fn, **options)``, failing this test."""
        from perflab.budgets.timing import assert_fast

        try:
            return assert_fast(fn, **options)
        except AssertionError as error:
            failure = str(error)
        self.fail(failure)

    def assertPerfSnapshot(self, name: str | None = None) -> AbstractContextManager[Capture]:
        """The block's statements and cache calls as recorded in the test module's
        ``.perf.yml`` (env ``PERFLAB_UPDATE_SNAPSHOTS=1`` rewrites it); entry
        ``Class.test_method``, or ``Class.test_method.<name>``."""
        from perflab.budgets.snapshot import Snapshot

        test_name = f"{type(self).__name__}.{self._testMethodName}"
        if name is not None:
            test_name = f"{test_name}.{name}"
        # update=False: the snapshot reads PERFLAB_UPDATE_SNAPSHOTS itself
        snapshot = Snapshot(Path(inspect.getfile(type(self))), test_name, update=False)
        return _SnapshotBlock(self, snapshot)


class _BudgetBlock:
    """``assertPerfBudget``'s block: a capture, checked on a clean exit, failing ``test``."""

    def __init__(self, test: Any, budget: Budget) -> None:
        self.test, self.budget = test, budget
        self.capture: Capture | None = None

    def __enter__(self) -> Capture:
        self.budget.check_alias()
        self.capture = Capture(threshold=self.budget.threshold)
        return self.capture.__enter__()

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.capture.__exit__(exc_type, exc, traceback)
        if exc_type is not None:  # the block's own error is the one to see
            return
        overruns = self.budget.check(self.capture)
        if overruns:
            self.test.fail(self.budget.explain(self.capture, overruns))


class _SnapshotBlock:
    """``assertPerfSnapshot``'s block: a mismatch fails ``test`` with the snapshot's diff."""

    def __init__(self, test: Any, snapshot: Any) -> None:
        self.test, self.snapshot = test, snapshot

    def __enter__(self) -> Capture:
        return self.snapshot.__enter__()

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            self.snapshot.__exit__(exc_type, exc, traceback)
            return
        try:
            self.snapshot.__exit__(None, None, None)
        except AssertionError as error:
            failure = str(error)
        else:
            return
        self.test.fail(failure)
