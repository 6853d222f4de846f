"""``Budget``: limits on what a block of test code may cost in statements, N+1s,
duplicates and database time, checked against a ``Capture``.

``assertNumQueries`` fails with "5 != 3"; a budget fails with the limits it exceeded, the
N+1 groups with their place and hint, and every statement with its line (``explain``).
The ``perf`` fixture, the ``perf`` marker and the unittest mixin all check this one class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perflab.budgets.capture import (
    TEST_NPLUSONE_THRESHOLD,
    Capture,
    Located,
    is_transaction_control,
)
from perflab.budgets.explain import describe_capture, describe_findings
from perflab.probe.findings import detect_findings
from perflab.probe.records import QueryEvent

__all__ = ["LIMITS", "Budget", "BudgetExceeded"]

LIMITS = ("queries", "n_plus_one", "duplicates", "db_ms")  # a budget's limits, in message order


class BudgetExceeded(AssertionError):
    """A block went over its budget; the message explains where (``explain``)."""

    def __init__(self, message: str, overruns: list[str], capture: Capture) -> None:
        super().__init__(message)
        self.overruns = overruns
        self.capture = capture


@dataclass(frozen=True, slots=True)
class Tally:
    """What a budget counts in a capture."""

    queries: list[QueryEvent]  # counted statements (kept ones; skipped ones are in ``skipped``)
    skipped: int
    n_plus_one: list[Located]
    duplicates: list[Located]

    @property
    def query_count(self) -> int:
        return len(self.queries) + self.skipped

    @property
    def db_ms(self) -> float:
        return sum(query.duration_ms for query in self.queries)


class Budget:
    """``Budget(queries=3, n_plus_one=0)``: at most 3 statements (transaction control is
    never counted) and no N+1 group; ``duplicates`` counts groups of identical statements,
    ``db_ms`` the statements' summed time. ``using`` counts one database alias only.

    Used as a context manager, it opens a ``Capture`` (yielded) and checks it on exit,
    unless the block raised: the block's own error is the one to see."""

    def __init__(
        self,
        *,
        queries: int | None = None,
        n_plus_one: int | None = None,
        duplicates: int | None = None,
        db_ms: float | None = None,
        using: str | None = None,
        threshold: int = TEST_NPLUSONE_THRESHOLD,
    ) -> None:
        self.queries = _count("queries", queries)
        self.n_plus_one = _count("n_plus_one", n_plus_one)
        self.duplicates = _count("duplicates", duplicates)
        self.db_ms = _milliseconds("db_ms", db_ms)
        if using is not None and (not isinstance(using, str) or not using):
            raise TypeError(f"using must be a database alias (a string), not {using!r}")
        self.using = using
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise TypeError(f"threshold must be a whole number, not {threshold!r}")
        if threshold < 2:
            raise ValueError(f"threshold must be 2 or more (statements in a loop), not {threshold}")
        self.threshold = threshold
        if all(getattr(self, name) is None for name in LIMITS):
            raise TypeError(f"a budget needs at least one limit: {', '.join(LIMITS)}")
        self._open: list[Capture] = []

    def __repr__(self) -> str:
        given = [f"{name}={getattr(self, name)!r}" for name in (*LIMITS, "using")]
        return f"Budget({', '.join(g for g in given if not g.endswith('=None'))})"

    # -- checking -----------------------------------------------------------------------

    def tally(self, capture: Capture) -> Tally:
        """The statements and findings this budget counts in ``capture`` (one alias with
        ``using``; N+1s at this budget's threshold)."""
        if self.using is None:
            queries = capture.queries
            skipped = capture.skipped_queries  # their alias is not kept: counted on every one
        else:
            queries = [q for q in capture.queries if q.alias == self.using]
            skipped = 0
        if self.using is None and self.threshold == capture.threshold:
            findings = capture.findings
        else:
            findings = [
                Located(finding, record)
                for record in capture.records
                for finding in detect_findings(self._kept(record.queries), self.threshold)
            ]
        return Tally(
            queries=queries,
            skipped=skipped,
            n_plus_one=[f for f in findings if f.finding.kind == "n_plus_one"],
            duplicates=[f for f in findings if f.finding.kind == "duplicate"],
        )

    def _kept(self, queries: list[QueryEvent]) -> list[QueryEvent]:
        return [
            q for q in queries if self.using in (None, q.alias) and not is_transaction_control(q)
        ]

    def check(self, capture: Capture) -> list[str]:
        """The limits ``capture`` exceeds, as ``"queries: 7 > 3"``; empty when within."""
        return self._overruns(self.tally(capture))

    def _overruns(self, tally: Tally) -> list[str]:
        seen = {
            "queries": tally.query_count,
            "n_plus_one": len(tally.n_plus_one),
            "duplicates": len(tally.duplicates),
            "db_ms": tally.db_ms,
        }
        overruns = []
        for name in LIMITS:
            limit = getattr(self, name)
            if limit is not None and seen[name] > limit:
                value = f"{seen[name]:.2f}" if name == "db_ms" else str(seen[name])
                overruns.append(f"{name}: {value} > {limit:g}")
        return overruns

    def explain(self, capture: Capture, overruns: list[str] | None = None) -> str:
        """The failure message: the limits exceeded, the N+1 groups with their hints, the
        duplicates, then what ran, request by request and statement by statement."""
        tally = self.tally(capture)
        overruns = self._overruns(tally) if overruns is None else overruns
        exceeded = {line.partition(":")[0] for line in overruns}
        on = f" (counting {self.using!r} only)" if self.using else ""
        parts = ["\n".join([f"perf budget exceeded{on}:", *(f"  {o}" for o in overruns)])]
        if exceeded - {"duplicates"}:  # an N+1 explains statements and time too
            parts.append(describe_findings(tally.n_plus_one, "N+1 queries"))
        if exceeded - {"n_plus_one"}:
            parts.append(describe_findings(tally.duplicates, "Duplicate statements"))
        parts.append(describe_capture(capture, using=self.using, counted=tally.queries))
        return "\n\n".join(part for part in parts if part)

    def verify(self, capture: Capture) -> None:
        """Raise ``BudgetExceeded`` with the explained message when ``capture`` exceeds
        this budget."""
        __tracebackhide__ = True
        overruns = self.check(capture)
        if overruns:
            raise BudgetExceeded(self.explain(capture, overruns), overruns, capture)

    # -- as a context manager -----------------------------------------------------------

    def check_alias(self) -> None:
        """``using`` names one of the project's databases (a typo would count nothing)."""
        if self.using is None:
            return
        from django.conf import settings

        if self.using not in settings.DATABASES:
            known = ", ".join(map(repr, settings.DATABASES))
            raise ValueError(f"using={self.using!r} is not a database alias (known: {known})")

    def __enter__(self) -> Capture:
        self.check_alias()
        capture = Capture(threshold=self.threshold)
        self._open.append(capture)
        return capture.__enter__()

    def __exit__(self, exc_type, exc, traceback) -> None:
        __tracebackhide__ = True
        capture = self._open.pop()
        capture.__exit__(exc_type, exc, traceback)
        if exc_type is None:
            self.verify(capture)


def _count(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, not {value}")
    return value


def _milliseconds(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of milliseconds, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be 0 or more milliseconds, not {value}")
    return value
