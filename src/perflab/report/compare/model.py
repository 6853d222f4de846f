"""The comparison model: two runs' endpoints matched by (method, name), judged against limits.

``compare`` builds a ``Comparison`` once — rows of per-endpoint ``Side`` figures, the
``Breach`` of every limit exceeded, and the notes a reader needs to trust the table — and
every renderer reads only that, so the verdict is the same whatever is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from perflab.errors import PerflabError
from perflab.load.results import EndpointFigures
from perflab.report.compare.limits import LATENCY, Limit
from perflab.report.compare.server import Run, ServerSide

DEFAULT_MIN_REQUESTS = 20
KIND_LABELS = {"n_plus_one": "N+1", "duplicate": "duplicate"}
SERVER_COLUMNS = ("queries", "findings")  # metrics only the probe store can give


@dataclass
class Side:
    """One endpoint in one run: client figures, and server figures when matched."""

    requests: int
    failures: int
    error_rate: float  # fraction
    rps: float
    latency: dict[str, float]
    route: str | None = None  # "GET api/posts/<pk>/"
    queries: float | None = None  # mean per request, None when unknown
    findings: list[dict[str, Any]] | None = None  # None when unknown

    def value(self, metric: str) -> float | None:
        if metric in LATENCY:
            return self.latency.get(metric)
        return {"requests": self.requests, "rps": self.rps, "error_rate": self.error_rate,
                "queries": self.queries}.get(metric)  # fmt: skip


@dataclass
class Breach:
    """One limit exceeded on one endpoint, with the sentence the verdict prints."""

    endpoint: str
    metric: str
    limit: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"endpoint": self.endpoint, "metric": self.metric, "limit": self.limit,
                "detail": self.detail}  # fmt: skip


@dataclass
class Row:
    """An endpoint in both runs (``both``), only the new (``added``), only the base
    (``removed``), or all requests (``totals``)."""

    method: str
    name: str
    state: str
    base: Side | None
    new: Side | None
    few_requests: bool = False
    breaches: list[Breach] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)  # metrics a limit could not judge

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}" if self.method else self.name

    @property
    def new_findings(self) -> list[dict[str, Any]] | None:
        """Findings of the new run not in the base run, by kind and statement (not line
        number, which moves with any edit); None when either side is unknown."""
        if self.new is None or self.new.findings is None:
            return None
        if self.base is None:
            return list(self.new.findings)
        if self.base.findings is None:
            return None
        old = {(f["kind"], f["fingerprint_hash"]) for f in self.base.findings}
        return [f for f in self.new.findings if (f["kind"], f["fingerprint_hash"]) not in old]

    def change(self, metric: str) -> tuple[float | None, float | None]:
        """(absolute delta, relative delta) for ``metric``; None where undefined."""
        if self.base is None or self.new is None:
            return None, None
        old, new = self.base.value(metric), self.new.value(metric)
        if old is None or new is None:
            return None, None
        return new - old, ((new - old) / old if old else None)

    def exceeded(self, metric: str) -> bool:
        return any(b.metric == metric for b in self.breaches)

    def as_dict(self) -> dict[str, Any]:
        def side(s: Side | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {"requests": s.requests, "failures": s.failures, "error_rate": s.error_rate,
                    "rps": s.rps, **{m: s.latency.get(m) for m in LATENCY}, "route": s.route,
                    "queries": s.queries,
                    "findings": None if s.findings is None else len(s.findings)}  # fmt: skip

        deltas = {}
        for metric in (*LATENCY, "rps", "error_rate", "queries"):
            absolute, relative = self.change(metric)
            deltas[metric] = {"delta": absolute, "relative": relative}
        return {
            "method": self.method, "name": self.name, "state": self.state,
            "base": side(self.base), "new": side(self.new), "deltas": deltas,
            "new_findings": [_finding_dict(f) for f in self.new_findings or []]
            if self.new_findings is not None else None,
            "few_requests": self.few_requests,
            "breaches": [b.as_dict() for b in self.breaches], "unjudged": self.unjudged,
        }  # fmt: skip


def _finding_dict(f: dict[str, Any]) -> dict[str, Any]:
    keys = ("kind", "method", "route", "callsite", "fingerprint_hash", "per_request", "hint",
            "example_sql")  # fmt: skip
    return {key: f.get(key) for key in keys}


@dataclass
class Comparison:
    """Two runs side by side, judged against the limits; every renderer reads only this."""

    base: Run
    new: Run
    rows: list[Row]
    totals: Row
    limits: tuple[Limit, ...]
    min_requests: int
    server: bool  # whether any server figures are shown
    notes: list[str]

    @property
    def breaches(self) -> list[Breach]:
        return [b for row in self.rows for b in row.breaches]

    @property
    def verdict(self) -> str:
        """``fail`` when a limit was exceeded, ``pass`` when none was, ``none`` without limits."""
        if not self.limits:
            return "none"
        return "fail" if self.breaches else "pass"

    def as_dict(self) -> dict[str, Any]:
        def run(r: Run) -> dict[str, Any]:
            return {"path": str(r.path), "name": r.name, "status": r.results.status,
                    "started_at": r.results.started_at, "duration_s": r.results.duration_s,
                    "probe_store": r.server.store if r.server else None}  # fmt: skip

        return {
            "schema": "perflab.compare/1",
            "base": run(self.base), "new": run(self.new),
            "limits": [{"metric": lim.metric, "value": lim.value, "relative": lim.relative,
                        "text": lim.text} for lim in self.limits],
            "min_requests": self.min_requests, "verdict": self.verdict,
            "breaches": [b.as_dict() for b in self.breaches],
            "rows": [row.as_dict() for row in self.rows], "totals": self.totals.as_dict(),
            "server_side": self.server, "notes": self.notes,
        }  # fmt: skip


def compare(
    base: Run,
    new: Run,
    limits: Iterable[Limit] = (),
    min_requests: int = DEFAULT_MIN_REQUESTS,
) -> Comparison:
    """Match endpoints by (method, name) and judge each one in both runs against the limits."""
    limits = tuple(limits)
    if any(lim.metric in SERVER_COLUMNS for lim in limits) and not (base.server and new.server):
        missing = " and ".join(n for n, r in (("base", base), ("new", new)) if not r.server)
        asked = ",".join(lim.text for lim in limits if lim.metric in SERVER_COLUMNS)
        raise PerflabError(
            f"--max-regression {asked} needs the probe store of both runs; the {missing} run "
            "has none (perflab run --store PATH, or --base-store/--new-store)"
        )
    old_rows = {(e.method, e.name): e for e in base.results.endpoints}
    new_rows = {(e.method, e.name): e for e in new.results.endpoints}
    rows: list[Row] = []
    for key in sorted(old_rows.keys() & new_rows.keys(), key=_by_name):
        row = Row(*key, "both", _side(old_rows[key], base.server, key),
                  _side(new_rows[key], new.server, key))  # fmt: skip
        row.few_requests = min(row.base.requests, row.new.requests) < min_requests
        _judge(row, limits)
        rows.append(row)
    for key in sorted(new_rows.keys() - old_rows.keys(), key=_by_name):
        rows.append(Row(*key, "added", None, _side(new_rows[key], new.server, key)))
    for key in sorted(old_rows.keys() - new_rows.keys(), key=_by_name):
        rows.append(Row(*key, "removed", _side(old_rows[key], base.server, key), None))
    totals = Row("", "all requests", "totals", _side(base.results.totals, None, None),
                 _side(new.results.totals, None, None))  # fmt: skip
    comparison = Comparison(base, new, rows, totals, limits, min_requests,
                            bool(base.server or new.server), [])  # fmt: skip
    comparison.notes = _notes(comparison)
    return comparison


def _by_name(key: tuple[str, str]) -> tuple[str, str]:
    return key[1], key[0]  # as results.json sorts endpoints: name, then method


def _side(endpoint: EndpointFigures, server: ServerSide | None, key) -> Side:
    side = Side(
        requests=endpoint.requests,
        failures=endpoint.failures,
        error_rate=endpoint.error_rate,
        rps=endpoint.rps,
        latency={m: getattr(endpoint.latency, m) for m in LATENCY},
    )
    if server is not None and key in server.endpoint_routes:
        route = server.endpoint_routes[key]
        side.route = f"{route[0]} {route[1]}"
        side.queries = float(server.routes[route]["mean_queries"])
        side.findings = server.findings.get(route, [])
    return side


def _judge(row: Row, limits: tuple[Limit, ...]) -> None:
    base, new = row.base, row.new
    for limit in limits:
        metric = limit.metric
        if metric in (*LATENCY, "rps") and row.few_requests:
            continue  # the noise guard: too few requests for a percentile or a rate
        if metric == "findings":
            found = row.new_findings
            if found is None:
                row.unjudged.append(metric)
            elif len(found) > limit.value:
                n = len(found)
                kinds = finding_kinds(found)
                detail = f"{n} new finding{'s' * (n != 1)} ({kinds}), limit {limit.value:g}"
                row.breaches.append(Breach(row.label, metric, limit.describe(), detail))
            continue
        old, now = base.value(metric), new.value(metric)
        if old is None or now is None:
            row.unjudged.append(metric)
            continue
        detail = _exceeded(limit, old, now)
        if detail:
            row.breaches.append(Breach(row.label, metric, limit.describe(), detail))


def _exceeded(limit: Limit, old: float, new: float) -> str | None:
    """The verdict's sentence when ``limit`` is exceeded from ``old`` to ``new``, else None."""
    metric = limit.metric
    if metric in LATENCY:
        figures = f"{metric} {old:,.1f} → {new:,.1f} ms"
        if limit.relative:
            if old > 0 and (new - old) / old * 100 <= limit.value + 1e-9:
                return None
            if old <= 0 and new <= 0:
                return None
            return f"{figures} ({percent_change(new, old)}, limit +{limit.value:g}%)"
        if new - old <= limit.value + 1e-9:
            return None
        return f"{figures} ({new - old:+,.1f} ms, limit +{limit.value:g} ms)"
    if metric == "rps":
        if old <= 0 or (old - new) / old * 100 <= limit.value + 1e-9:
            return None
        return (
            f"req/s {old:,.1f} → {new:,.1f} ({percent_change(new, old)}, limit -{limit.value:g}%)"
        )
    if metric == "error_rate":
        points = (new - old) * 100
        if points <= limit.value + 1e-9:
            return None
        return (f"error rate {old:.1%} → {new:.1%} ({points:+.1f} pp, "
                f"limit +{limit.value:g} pp)")  # fmt: skip
    if new - old <= limit.value + 1e-9:  # queries per request
        return None
    return f"queries per request {old:.1f} → {new:.1f} ({new - old:+.1f}, limit +{limit.value:g})"


def _notes(c: Comparison) -> list[str]:
    """What the reader must know to trust the table: gaps, guards, and how rows were joined."""
    notes = []
    for which, run in (("base", c.base), ("new", c.new)):
        status = run.results.status
        if status != "completed":
            why = run.results.message
            notes.append(f"the {which} run is {status}" + (f": {why}" if why else ""))
    if c.base.results.model != c.new.results.model:
        notes.append(
            f"the runs used different load models ({c.base.results.model} vs "
            f"{c.new.results.model}): latency and req/s do not compare like for like"
        )
    if not c.server:
        notes.append(
            f"no server-side figures: base: {c.base.server_note}; new: {c.new.server_note}"
        )
    else:
        for which, run in (("base", c.base), ("new", c.new)):
            if run.server is None:
                notes.append(f"no server-side figures for the {which} run: {run.server_note}")
        notes.extend(_join_notes(c))
    few = [row.label for row in c.rows if row.few_requests]
    if few:
        notes.append(
            f"* fewer than {c.min_requests} requests in a run (latency and req/s "
            f"{'limits not judged' if c.limits else 'are noise'}): {', '.join(few)}"
        )
    unjudged = [f"{row.label} ({', '.join(row.unjudged)})" for row in c.rows if row.unjudged]
    if unjudged:
        notes.append(f"limits not judged for lack of server figures: {'; '.join(unjudged)}")
    changed = [row.label for row in c.rows if row.state != "both"]
    if changed:
        notes.append(f"endpoints in one run only are shown but not judged: {', '.join(changed)}")
    return notes


def _join_notes(c: Comparison) -> list[str]:
    notes = []
    for row in c.rows:
        key, joined = (row.method, row.name), []
        for which, run, side in (("base", c.base, row.base), ("new", c.new, row.new)):
            if run.server is None or side is None:
                continue
            route = run.server.endpoint_routes.get(key)
            if route is None:
                why = run.server.unmatched.get(key, "no route of that name in the run's minutes")
                notes.append(f"{row.label}: no server figures in the {which} run ({why})")
            elif run.server.matched_by[key] == "request id":
                joined.append(f"{which} {' '.join(route)}")
        if joined:
            notes.append(f"{row.label} joined to its route by request id: {', '.join(joined)}")
    if c.base.server and c.new.server and c.base.server.store == c.new.server.store:
        first = (int(c.base.server.since) // 60, int(c.base.server.until) // 60)
        second = (int(c.new.server.since) // 60, int(c.new.server.until) // 60)
        shared = set(c.base.server.endpoint_routes.values()) & set(
            c.new.server.endpoint_routes.values()
        )
        if shared and first[0] <= second[1] and second[0] <= first[1] and c.base.path != c.new.path:
            notes.append(
                "the runs shared a minute in one probe store: server figures for "
                f"{', '.join(' '.join(r) for r in sorted(shared))} include both runs' requests"
            )
    return notes


# -- wording shared with the renderers ----------------------------------------------------


def percent_change(new: float, old: float) -> str:
    """``+12%`` from ``old`` to ``new``: one decimal below 10%, ``new`` from nothing."""
    if not old:
        return "new" if new else "±0%"
    change = (new - old) / old * 100
    return f"{change:+.1f}%" if abs(change) < 10 else f"{change:+.0f}%"


def finding_kinds(findings: list[dict[str, Any]]) -> str:
    """``2 N+1, 1 duplicate``: findings counted by kind, in the order first seen."""
    counts: dict[str, int] = {}
    for f in findings:
        label = KIND_LABELS.get(f["kind"], f["kind"])
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} {label}" for label, n in counts.items())
