"""Time budgets that do not flake: ``assert_fast(fn, p50_ms=20)``.

One call's time is noise (a collection, a context switch, a cold cache); a test that asserts
it fails once a week. So ``fn`` is called ``warmup`` times unmeasured (imports, Django's
URL resolver and template caches, the database's first connection), then ``repeat`` times
measured, and the limits apply to percentiles of those calls — the median for "is it fast",
a high percentile for "is it always fast". Each limit is scaled by the machine's speed
factor (``perflab.budgets.calibration``), so the budget written on one machine holds on a
slower one.

Percentiles are **nearest-rank**: the p-th percentile of n calls is the
``ceil(p/100 · n)``-th fastest, always a time one call really took (with 30 calls p50 is the
15th, p90 the 27th, p95 the 29th and p99 the slowest).

The garbage collector runs once (``gc.collect()``) after the warm-up and before the measured
calls, so that garbage the test's setup left does not land in them, and stays enabled while
they run: collections that ``fn``'s own allocations trigger are part of what it costs in
production. A collection lands in one call out of many, and moves p90 and above rather than
the median.

The measured calls run with every open capture paused (``CapturesPaused``): under the
``--perflab`` sweep or a budget, the probe's recorders would otherwise add their own work to
each call (about a tenth of a small view's time). The warm-up calls run under them, so the
sweep still sees what ``fn`` does.

A failure (``TooSlow``) says which percentile exceeded which limit (as written and as
scaled), every percentile measured, the clock, and where the time went: ``fn`` runs once
more, untimed, inside the one capture (``perflab.budgets.capture``), which counts its
requests, statements, database time and N+1 groups.
"""

from __future__ import annotations

import gc
import inspect
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from perflab.budgets.calibration import SpeedFactor, speed_factor
from perflab.errors import PerflabError

PERCENTILES = (50, 90, 95, 99)  # the limits assert_fast takes, p50_ms ... p99_ms
# "wall": elapsed time, what a user waits for, sleeps and I/O included, and so also a busy
# neighbour's share of the CPU. "cpu": the calling thread's CPU time, blind to sleeps, I/O
# waits and time spent descheduled.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}
CLOCK_NAMES = {"wall": "wall clock (time.perf_counter)", "cpu": "CPU time (time.thread_time)"}
MAX_STATEMENTS_SHOWN = 10  # of the explaining call: the first ones, in the order they ran


def percentile(samples: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (0 < p ≤ 100): the ``ceil(p/100 · n)``-th
    smallest sample."""
    if not samples:
        raise ValueError("no samples")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    ordered = sorted(samples)
    rank = math.ceil(p / 100 * len(ordered) - 1e-9)  # 1e-9: 0.95 * 20 is 19.000000000000004
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class TimingResult:
    """The measured calls of one ``assert_fast``, in call order, and how they were taken."""

    samples_ms: tuple[float, ...]
    clock: str = "wall"
    warmup: int = 0
    speed: SpeedFactor | None = None  # None: calibrate=False, limits apply as written

    @property
    def repeat(self) -> int:
        return len(self.samples_ms)

    @property
    def factor(self) -> float:
        return self.speed.factor if self.speed is not None else 1.0

    def percentile_ms(self, p: float) -> float:
        return percentile(self.samples_ms, p)

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p90_ms(self) -> float:
        return self.percentile_ms(90)

    @property
    def p95_ms(self) -> float:
        return self.percentile_ms(95)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(99)

    @property
    def min_ms(self) -> float:
        return min(self.samples_ms)

    @property
    def max_ms(self) -> float:
        return max(self.samples_ms)

    def overruns(self, limits: dict[int, float]) -> list[Overrun]:
        """Each limit (percentile → ms as written) that the scaled limit does not hold."""
        found = []
        for p, written in sorted(limits.items()):
            measured = self.percentile_ms(p)
            scaled = written * self.factor
            if measured > scaled:
                found.append(Overrun(p, written, scaled, measured))
        return found

    def describe(self) -> str:
        """The measured percentiles on one line."""
        parts = [f"min {_ms(self.min_ms)}"]
        parts += [f"p{p} {_ms(self.percentile_ms(p))}" for p in PERCENTILES]
        parts.append(f"max {_ms(self.max_ms)}")
        return "  ".join(parts) + " ms"


@dataclass(frozen=True, slots=True)
class Overrun:
    """One limit exceeded: the percentile, the limit as written and as scaled, the time."""

    percentile: int
    written_ms: float
    scaled_ms: float
    measured_ms: float

    def describe(self, speed: SpeedFactor | None) -> str:
        if speed is None:
            how = "as written, calibrate=False"
        else:
            how = f"p{self.percentile}_ms={self.written_ms:g} x speed factor {speed.factor:.2f}"
        measured, scaled = _ms(self.measured_ms), _ms(self.scaled_ms)
        return f"p{self.percentile} {measured} ms > {scaled} ms ({how})"


class TooSlow(AssertionError):
    """A time budget exceeded: the message says by what, measured how, and where the time
    of one call went."""

    def __init__(self, result: TimingResult, overruns: list[Overrun], where: str = "") -> None:
        self.result = result
        self.overruns = overruns
        self.where = where
        super().__init__(self._message())

    def _message(self) -> str:
        result = self.result
        lines = ["too slow: " + "; ".join(o.describe(result.speed) for o in self.overruns)]
        lines.append(
            f"  {CLOCK_NAMES[result.clock]}, {_count(result.repeat, 'call')} measured after "
            f"{_count(result.warmup, 'warm-up call')}"
        )
        lines.append(f"  measured: {result.describe()}")
        if result.speed is not None:
            lines.append(f"  {result.speed.describe()}")
        if self.where:
            lines.append(self.where)
        return "\n".join(lines)


def measure(
    fn: Callable[[], object], *, repeat: int, warmup: int, clock: str = "wall"
) -> list[float]:
    """``fn``'s time in ms for each of ``repeat`` calls after ``warmup`` unmeasured ones,
    the collector run in between (see the module's docstring). The warm-up calls run under
    the open captures (the ``--perflab`` sweep, a budget around the test), which see what
    ``fn`` does; the measured calls run with the captures paused, so that their recorders'
    work is not timed as ``fn``'s."""
    from perflab.budgets.capture import CapturesPaused

    timer = CLOCKS[clock]
    for _ in range(warmup):
        _refuse_coroutine(fn())
    gc.collect()
    samples = []
    with CapturesPaused():
        for _ in range(repeat):
            t0 = timer()
            returned = fn()
            samples.append((timer() - t0) * 1000.0)
            _refuse_coroutine(returned)
    return samples


def assert_fast(
    fn: Callable[[], object],
    *,
    p50_ms: float | None = None,
    p90_ms: float | None = None,
    p95_ms: float | None = None,
    p99_ms: float | None = None,
    repeat: int = 30,
    warmup: int = 3,
    clock: str = "wall",
    calibrate: bool = True,
) -> TimingResult:
    """Call ``fn`` ``warmup`` + ``repeat`` times and raise ``TooSlow`` when a percentile of
    the measured calls exceeds its limit times the machine's speed factor (the limit as
    written with ``calibrate=False``). An exception from ``fn`` propagates as it is."""
    __tracebackhide__ = True  # pytest: the failure is the test's line, not this function
    given = {50: p50_ms, 90: p90_ms, 95: p95_ms, 99: p99_ms}
    limits = {p: float(ms) for p, ms in given.items() if ms is not None}
    _check_arguments(limits, repeat, warmup, clock)
    speed = speed_factor() if calibrate else None  # before fn runs: its first call is slow
    samples = measure(fn, repeat=repeat, warmup=warmup, clock=clock)
    result = TimingResult(tuple(samples), clock, warmup, speed)
    overruns = result.overruns(limits)
    if overruns:
        raise TooSlow(result, overruns, where_time_went(fn))
    return result


def _check_arguments(limits: dict[int, float], repeat: int, warmup: int, clock: str) -> None:
    __tracebackhide__ = True
    if not limits:
        raise PerflabError("assert_fast needs a limit: p50_ms=, p90_ms=, p95_ms= or p99_ms=")
    for p, ms in limits.items():
        if not (math.isfinite(ms) and ms > 0):
            raise PerflabError(f"assert_fast: p{p}_ms={ms:g} is not a time above 0 ms")
    if clock not in CLOCKS:
        raise PerflabError(f"assert_fast: clock={clock!r}: expected 'wall' or 'cpu'")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise PerflabError(f"assert_fast: repeat={repeat!r}: expected a whole number ≥ 1")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise PerflabError(f"assert_fast: warmup={warmup!r}: expected a whole number ≥ 0")


def _refuse_coroutine(returned: object) -> None:
    if inspect.iscoroutine(returned):
        returned.close()
        raise PerflabError(
            "assert_fast: fn returned a coroutine, which times nothing: pass a plain callable "
            "(e.g. lambda: async_to_sync(coro_fn)())"
        )


# -- where the time went ------------------------------------------------------------------


def where_time_went(fn: Callable[[], object]) -> str:
    """One more call of ``fn``, untimed, under the capture: its requests, statements,
    database time and N+1 groups, as the failure message's last lines. Without Django's
    settings (``fn`` is not Django code) there is nothing to capture, and it says so."""
    try:
        from django.conf import settings

        configured = settings.configured
    except ImportError:
        configured = False
    if not configured:
        return "  where the time went: not captured (Django's settings are not configured)"
    from perflab.budgets.capture import Capture

    with Capture() as seen:
        fn()
    return _summarize(seen)


def _summarize(seen) -> str:
    """One call as the capture saw it, in the words of every budget's failure
    (``perflab.budgets.explain``): N+1s and duplicates, then each request's statements."""
    from perflab.budgets.explain import describe_capture, describe_findings

    n_plus_one = [f for f in seen.findings if f.finding.kind == "n_plus_one"]
    duplicates = [f for f in seen.findings if f.finding.kind == "duplicate"]
    parts = [
        describe_findings(n_plus_one, "N+1 queries"),
        describe_findings(duplicates, "Duplicate statements"),
        describe_capture(seen, max_statements=MAX_STATEMENTS_SHOWN),
    ]
    text = "\n".join(part for part in parts if part)
    head = "  where the time went (one more call, untimed: the capture slows it):"
    return "\n".join([head, *(f"    {line}" for line in text.splitlines())])


def _ms(value: float) -> str:
    """Milliseconds to three significant digits or so: 123, 12.3, 1.23, 0.123."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
