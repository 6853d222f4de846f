"""Service-level objectives: ``--slo "p95<200ms"`` parsed once, judged on a run's results.

Kept free of Locust so ``perflab capacity`` and CI scripts can re-judge a saved run's
``RunResults``.
Thresholds are stored in base units (ms, a fraction, req/s, counts) so the evaluator never
guesses what a number meant; a scope that matches no endpoint fails, because a typo in an
endpoint name must not turn an SLO into a silent pass.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from perflab.errors import PerflabError
from perflab.load.results import EndpointFigures, SLOVerdict

LATENCY = ("p50", "p75", "p90", "p95", "p99", "p99.9", "p99.99", "max", "min", "mean")
METRICS = (*LATENCY, "error_rate", "rps", "requests", "failures")
ALIASES = {"avg": "mean", "errors": "error_rate", "p999": "p99.9", "p9999": "p99.99"}
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
# Metrics that only grow during a run: a floor on them cannot be judged before the end.
_GROWING = {"rps", "requests"}
_LATENCY_UNITS = {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001, "μs": 0.001}
EXPECTED = 'expected [ENDPOINT:]METRIC OP VALUE such as "p95<200ms", "error_rate<1%", "rps>50"'

# The scope is greedy, so the metric is what follows the last ':' after which the rest of the
# text still reads METRIC OP VALUE: "GET /api/posts/<int:pk>/:p95<100ms" keeps its own ':'.
_SLO_RE = re.compile(
    r"^(?:(?P<scope>.*):)?\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[^\d\s.]*)$"
)


@dataclass(frozen=True)
class SLO:
    """One objective; ``threshold`` is in base units (ms, fraction, req/s or a count)."""

    expression: str
    scope: str | None
    metric: str
    op: str
    threshold: float

    @property
    def is_ceiling(self) -> bool:
        """True when a breach mid-run is already final, so --abort-on-fail may stop early."""
        return self.op in ("<", "<=") and self.metric not in _GROWING

    def describe(self) -> str:
        text = f"{self.metric} {self.op} {format_threshold(self.metric, self.threshold)}"
        return f"{self.scope}: {text}" if self.scope else text


@dataclass
class SLOResult:
    """The verdict on one SLO, with the number it was judged on and a sentence saying why."""

    slo: SLO
    passed: bool
    actual: float | None
    where: str
    detail: str

    def as_record(self) -> SLOVerdict:
        """For results.json: enough to re-read the verdict without re-parsing anything."""
        slo = self.slo
        return SLOVerdict(
            expression=slo.expression, scope=slo.scope, metric=slo.metric, op=slo.op,
            threshold=slo.threshold, passed=self.passed, actual=self.actual, where=self.where,
            detail=self.detail,
        )  # fmt: skip


def parse_slo(text: str) -> SLO:
    """Parse ``[SCOPE:]METRIC OP VALUE[UNIT]``; any mistake is one PerflabError line."""
    match = _SLO_RE.match(text.strip())
    if not match:
        raise PerflabError(f'bad SLO "{text}": {EXPECTED}')
    scope = match["scope"].strip() if match["scope"] is not None else None
    if scope == "":
        raise PerflabError(f'bad SLO "{text}": nothing before ":" (write ENDPOINT:METRIC)')
    name = match["metric"].lower()
    metric = ALIASES.get(name, name)
    if metric not in METRICS:
        known = ", ".join(METRICS)
        aliases = ", ".join(f"{a}={m}" for a, m in ALIASES.items())
        raise PerflabError(
            f'bad SLO "{text}": unknown metric "{match["metric"]}"; known: {known} ({aliases})'
        )
    value = float(match["value"])
    threshold = _to_base_unit(text, metric, value, match["unit"].lower())
    return SLO(text, scope, metric, match["op"], threshold)


def _to_base_unit(text: str, metric: str, value: float, unit: str) -> float:
    def wrong(expected: str) -> PerflabError:
        return PerflabError(f'bad SLO "{text}": {metric} takes {expected}, not "{unit}"')

    if metric in LATENCY:
        if unit not in _LATENCY_UNITS:
            raise wrong("a latency in ms, s or us (a bare number is ms)")
        return value * _LATENCY_UNITS[unit]
    if metric == "error_rate":
        if unit == "%":
            if value > 100:
                raise PerflabError(f'bad SLO "{text}": error_rate {value:g}% is over 100%')
            return value / 100
        if unit:
            raise wrong('a percentage ("1%") or a fraction ("0.01")')
        if value > 1:
            raise PerflabError(
                f'bad SLO "{text}": error_rate {value:g} is not a fraction; '
                f"write {value:g}% or {value / 100:g}"
            )
        return value
    if metric == "rps":
        if unit not in ("", "/s"):
            raise wrong('requests per second (a bare number or "/s")')
        return value
    if unit:
        raise wrong("a plain count")
    return value


def evaluate(
    slos: Iterable[SLO], totals: EndpointFigures, endpoints: Sequence[EndpointFigures]
) -> list[SLOResult]:
    """Judge each SLO on a run's figures; a scoped SLO must hold on every endpoint it names."""
    return [_evaluate_one(slo, totals, endpoints) for slo in slos]


def _evaluate_one(
    slo: SLO, totals: EndpointFigures, endpoints: Sequence[EndpointFigures]
) -> SLOResult:
    if slo.scope is None:
        rows = [totals]
        where = "all requests"
    else:
        rows = [row for row in endpoints if _matches(slo.scope, row)]
        where = ", ".join(row.label for row in rows)
        if not rows:
            detail = f"no requests named {slo.scope}"
            return SLOResult(slo, False, None, slo.scope, detail)
    judged = [(row, _value(slo.metric, row)) for row in rows]
    if any(value is None for _, value in judged):
        silent = next(row for row, value in judged if value is None)
        detail = f"no requests to judge {slo.metric} on {silent.label}"
        return SLOResult(slo, False, None, where, detail)
    # The worst row is the furthest on the wrong side: highest for a ceiling, lowest for a floor.
    pick = max if slo.op in ("<", "<=") else min
    worst_row, actual = pick(judged, key=lambda pair: pair[1])
    passed = all(OPS[slo.op](value, slo.threshold) for _, value in judged)
    shown_op = slo.op if passed else _NEGATED[slo.op]
    detail = (
        f"{slo.metric} {format_value(slo.metric, actual)} {shown_op} "
        f"{format_threshold(slo.metric, slo.threshold)}"
    )
    if len(rows) > 1:
        detail += f" (worst: {worst_row.label})"
    return SLOResult(slo, passed, actual, where, detail)


_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _matches(scope: str, row: EndpointFigures) -> bool:
    """A bare name matches every method ("/api/posts/"); a method prefix narrows it ("GET ...")."""
    if row.name == scope:
        return True
    method, _, name = scope.partition(" ")
    return method.upper() == row.method.upper() and name.strip() == row.name


def _value(metric: str, row: EndpointFigures) -> float | None:
    """The metric's value on one row, or None when there is nothing to judge it on."""
    if metric in ("rps", "requests", "failures"):
        return float(getattr(row, metric))
    if not row.requests:
        return None
    if metric == "error_rate":
        return float(row.error_rate)
    return float(getattr(row.latency, metric.replace(".", "_")))


def format_value(metric: str, value: float) -> str:
    """A measured value for display: ms with 1 decimal, % with 2, req/s with 1, counts whole."""
    return _with_unit(metric, value, {"ms": ".1f", "%": ".2f", "rps": ".1f", "count": ".0f"})


def format_threshold(metric: str, value: float) -> str:
    """A threshold for display, as short as the user would have typed it."""
    return _with_unit(metric, value, dict.fromkeys(("ms", "%", "rps", "count"), ".10g"))


def _with_unit(metric: str, value: float, spec: dict[str, str]) -> str:
    if metric in LATENCY:
        return f"{value:{spec['ms']}} ms"
    if metric == "error_rate":
        return f"{value * 100:{spec['%']}}%"
    if metric == "rps":
        return f"{value:{spec['rps']}} req/s"
    return f"{value:{spec['count']}}"
