"""``PerfTestMixin``: budgets, time budgets and snapshots for ``unittest`` and Django's
``TestCase``, under ``manage.py test`` as under pytest.

The same ``Budget``, ``assert_fast`` and ``Snapshot`` as the ``perf`` fixture; a failure
is the test's own (``self.fail``, so ``failureException`` applies) with the explained
message. Nothing here imports pytest.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from perflab.budgets.budget import Budget
from perflab.budgets.capture import TEST_NPLUSONE_THRESHOLD, Capture

__all__ = ["PerfTestMixin"]


class PerfTestMixin:
    """Mix into a ``unittest.TestCase`` (or Django's): ``with self.assertPerfBudget(
    queries=3, n_plus_one=0): self.client.get(...)``."""

    @contextmanager
    def assertPerfBudget(self, **limits: Any) -> Iterator[Capture]:
        """The block's statements, N+1 groups, duplicates and database time within
        ``limits`` (``queries``, ``n_plus_one``, ``duplicates``, ``db_ms``, ``using``,
        ``threshold``); yields the ``Capture``. An error raised in the block is left as is."""
        budget = Budget(**limits)
        budget.check_alias()
        with Capture(threshold=budget.threshold) as seen:
            yield seen
        overruns = budget.check(seen)
        if overruns:
            self.fail(budget.explain(seen, overruns))

    def assertNoNPlusOne(self, threshold: int = TEST_NPLUSONE_THRESHOLD, using: str | None = None):
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

    @contextmanager
    def assertPerfSnapshot(self, name: str | None = None) -> Iterator[Capture]:
        """The block's statements and cache calls as recorded in the test module's
        ``.perf.yml`` (env ``PERFLAB_UPDATE_SNAPSHOTS=1`` rewrites it); entry
        ``Class.test_method``, or ``Class.test_method.<name>``."""
        from perflab.budgets.snapshot import Snapshot

        test_name = f"{type(self).__name__}.{self._testMethodName}"
        if name is not None:
            test_name = f"{test_name}.{name}"
        # update=False: the snapshot reads PERFLAB_UPDATE_SNAPSHOTS itself
        snapshot = Snapshot(Path(inspect.getfile(type(self))), test_name, update=False)
        seen = snapshot.__enter__()
        try:
            yield seen
        except BaseException as error:
            if not snapshot.__exit__(type(error), error, error.__traceback__):
                raise
            return
        failure = None
        try:
            snapshot.__exit__(None, None, None)
        except AssertionError as error:
            failure = str(error)
        if failure is not None:
            self.fail(failure)
