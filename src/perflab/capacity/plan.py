"""Which arrival rate to try next: a geometric (or additive) ramp, then a bisection.

Kept apart from running anything so the search's bounds can be tested on data: the ramp
stops at the first breach, at ``max_rate`` or after ``max_steps``; the bisection then
halves the gap between the highest passing and the lowest failing rate ``bisect_steps``
times (or until the gap is under 1 % of the rate). So at most ``max_steps + bisect_steps``
steps run, whatever the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perflab.errors import PerflabError

MIN_GAP = 0.01  # stop bisecting when the bracket is narrower than 1 % of the passing rate


@dataclass
class StepPlanner:
    """Proposes rates one at a time; ``record`` tells it whether the last one held."""

    start: float
    factor: float | None = 1.5
    step: float | None = None
    max_rate: float | None = None
    max_steps: int = 12
    bisect_steps: int = 3
    tried: list[tuple[float, bool]] = field(default_factory=list)
    _ramp_done: bool = False
    _bisected: int = 0

    def __post_init__(self) -> None:
        if not self.start > 0:
            raise PerflabError("--start-rate must be positive")
        if self.step is not None:
            if not self.step > 0:
                raise PerflabError("--step must be positive")
            self.factor = None
        elif self.factor is None or not self.factor > 1:
            raise PerflabError("--step-factor must be greater than 1")
        if self.max_rate is not None and self.max_rate < self.start:
            raise PerflabError("--max-rate must not be below --start-rate")
        if not 1 <= self.max_steps <= 100:
            raise PerflabError("--max-steps must be between 1 and 100")
        if not 0 <= self.bisect_steps <= 20:
            raise PerflabError("--bisect-steps must be between 0 and 20")

    @property
    def most_steps(self) -> int:
        return self.max_steps + self.bisect_steps

    @property
    def passing(self) -> float | None:
        """The highest rate that held (below every failing rate: the bracket's floor)."""
        failing = self.failing
        rates = [r for r, ok in self.tried if ok and (failing is None or r < failing)]
        return max(rates, default=None)

    @property
    def failing(self) -> float | None:
        return min((r for r, ok in self.tried if not ok), default=None)

    @property
    def phase(self) -> str:
        return "bisect" if self._ramp_done else "ramp"

    def record(self, rate: float, passed: bool) -> None:
        self.tried.append((rate, passed))
        if self._ramp_done:
            self._bisected += 1
        elif not passed or len(self.tried) >= self.max_steps or rate == self.max_rate:
            self._ramp_done = True

    def next_rate(self) -> float | None:
        """The next rate to hold, or None when the search is over."""
        if not self.tried:
            return self.start
        if not self._ramp_done:
            last = self.tried[-1][0]
            rate = last + self.step if self.step is not None else last * self.factor
            if self.max_rate is not None and rate >= self.max_rate:
                rate = self.max_rate
            return _round(rate)
        low, high = self.passing, self.failing
        if low is None or high is None or self._bisected >= self.bisect_steps:
            return None
        middle = _round((low + high) / 2)
        if high - low < MIN_GAP * low or not low < middle < high:
            return None
        return middle


def _round(rate: float) -> float:
    """Rates as people read them: 3 significant digits at least, 0.1/s at most precise."""
    return round(rate, 1) if rate >= 10 else round(rate, 2)
