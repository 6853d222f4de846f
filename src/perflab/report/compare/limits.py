"""The ``--max-regression`` grammar: ``p95=10%,rps=5%,queries=0`` into ``Limit`` values.

Kept apart from the comparison so the command can reject a bad limit before any run is read,
and so the metric names and their units are defined in one place that the model reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from perflab.errors import PerflabError

LATENCY = ("p50", "p95", "p99")
METRICS = (*LATENCY, "rps", "error_rate", "queries", "findings")
EXPECTED = 'expected METRIC=LIMIT[,…] such as "p95=10%,rps=5%,queries=0"'
_LATENCY_UNITS = {"ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001, "μs": 0.001}
_LIMIT_RE = re.compile(
    r"^(?P<metric>[A-Za-z_][\w.]*)\s*=\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[^\d\s.]*)$"
)


@dataclass(frozen=True)
class Limit:
    """How much worse one metric may get; ``value`` in the unit ``relative`` implies."""

    metric: str
    value: float  # % (relative), ms, percentage points, queries per request, or findings
    relative: bool  # latency: % of the base run's value (True) or ms (False)
    text: str

    def describe(self) -> str:
        if self.metric in LATENCY:
            return f"{self.metric} +{self.value:g}{'%' if self.relative else ' ms'}"
        return {
            "rps": f"req/s -{self.value:g}%",
            "error_rate": f"error rate +{self.value:g} pp",
            "queries": f"queries/req +{self.value:g}",
            "findings": f"{self.value:g} new findings",
        }[self.metric]


def parse_limits(text: str | None) -> tuple[Limit, ...]:
    """``p95=10%,rps=5%,queries=0`` → limits; any mistake is one PerflabError line."""
    if text is None:
        return ()
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise PerflabError(f"bad --max-regression {text!r}: empty; {EXPECTED}")
    limits: dict[str, Limit] = {}
    for item in items:
        limit = _parse_limit(item)
        if limit.metric in limits:
            raise PerflabError(f'bad --max-regression "{item}": {limit.metric} is given twice')
        limits[limit.metric] = limit
    return tuple(limits.values())


def _parse_limit(item: str) -> Limit:
    match = _LIMIT_RE.match(item)
    if not match:
        raise PerflabError(f'bad --max-regression "{item}": {EXPECTED}')
    metric, unit = match["metric"].lower(), match["unit"].lower()
    metric = {"errors": "error_rate", "queries_per_request": "queries"}.get(metric, metric)
    value = float(match["value"])

    def wrong(expected: str) -> PerflabError:
        return PerflabError(f'bad --max-regression "{item}": {metric} takes {expected}')

    if metric in LATENCY:
        if unit == "%":
            return Limit(metric, value, True, item)
        if unit in _LATENCY_UNITS:
            return Limit(metric, value * _LATENCY_UNITS[unit], False, item)
        raise wrong('a % increase ("10%") or an increase in ms ("20ms")')
    if metric == "rps":
        if unit != "%":
            raise wrong('a % decrease ("5%")')
        if value > 100:
            raise wrong("a decrease of at most 100%")
        return Limit(metric, value, True, item)
    if metric == "error_rate":
        if unit in ("%", "pp"):
            return Limit(metric, value, False, item)
        if unit or value > 1:
            raise wrong('percentage points ("1%") or a fraction ("0.01")')
        return Limit(metric, value * 100, False, item)
    if metric in ("queries", "findings"):
        if unit:
            raise wrong(f'a plain number ("{metric}=0"), not "{unit}"')
        return Limit(metric, value, False, item)
    known = ", ".join(METRICS)
    raise PerflabError(f'bad --max-regression "{item}": unknown metric "{metric}"; known: {known}')
