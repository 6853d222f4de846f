"""The server side of a run: what the probe store recorded while it ran, matched to endpoints.

Client figures come from each run's ``results.json`` (read with ``load_results``); server
figures (queries per request, N+1 and duplicate findings) from the probe store the run
recorded (``perflab run --store``), restricted to the minutes the run spanned. A client name
meets a server route by name when the runner grouped by route (``/api/posts/<pk>/``),
otherwise through the request ids of the run's join sample (``requests.csv``, a documented
file of the run directory), which the probe stored with each request. What cannot be matched
is left unmatched and says why: a comparison that guesses would gate a pull request on noise.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from perflab.errors import PerflabError
from perflab.load.grouping import route_named
from perflab.load.results import REQUESTS, load_results
from perflab.report.probe_store import probe_store_problem

JOIN_SAMPLE = 10  # request ids per endpoint looked up in the store to find its route


@dataclass
class ServerSide:
    """What the probe recorded while one run ran, and which client endpoint is which route."""

    store: str
    since: float
    until: float
    routes: dict[tuple[str, str], dict[str, Any]]  # (method, route) → store.routes() row
    findings: dict[tuple[str, str], list[dict[str, Any]]]  # (method, route) → findings
    endpoint_routes: dict[tuple[str, str], tuple[str, str]]  # (method, name) → (method, route)
    matched_by: dict[tuple[str, str], str]  # (method, name) → "name" | "request id"
    unmatched: dict[tuple[str, str], str]  # (method, name) → why


@dataclass
class Run:
    """One side of the comparison: its results, where they are, and its server side if any."""

    path: Path
    results: dict[str, Any]
    server: ServerSide | None = None
    server_note: str | None = None  # why there is no server side

    @property
    def name(self) -> str:
        return self.results.get("label") or self.path.name


def load_run(path: Path | str, store: Path | str | None = None) -> Run:
    """A run and its server side; ``store`` overrides the run's recorded ``probe_store``.

    A store given explicitly must be readable (bad input otherwise); a recorded one that has
    gone missing only loses the server columns, since the client figures still compare.
    """
    path = Path(path)
    results = load_results(path)
    run = Run(path if path.is_dir() else path.parent, results)
    recorded = results.get("probe_store")
    candidate = Path(store) if store is not None else Path(recorded) if recorded else None
    if candidate is None:
        run.server_note = "no probe store recorded (perflab run --store PATH)"
        return run
    problem = probe_store_problem(candidate)
    if problem and store is not None:
        raise PerflabError(problem)
    if problem:
        run.server_note = f"recorded {problem}"
        return run
    from perflab.probe.database import StoreUnavailable

    try:
        run.server = read_server_side(results, candidate, run.path)
    except (KeyError, TypeError, ValueError):
        raise PerflabError(f"{run.path}: results.json has no valid started_at/ended_at") from None
    except StoreUnavailable as exc:
        if store is not None:
            raise PerflabError(f"cannot read the probe store: {exc}") from None
        run.server_note = f"cannot read the recorded probe store: {exc}"
    return run


def read_server_side(results: dict[str, Any], store_path: Path | str, run_dir: Path) -> ServerSide:
    """Routes in the run's minutes, each client endpoint's route, and its routes' findings."""
    from perflab.probe.store import RecordingStore

    store = RecordingStore.at_path(store_path, read_only=True)
    since, until = _epoch(results["started_at"]), _epoch(results["ended_at"])
    routes = {
        (row["method"], row["route"]): row
        for row in store.routes(since=since, until=until)
        if row["route"]
    }
    side = ServerSide(str(Path(store_path).resolve()), since, until, routes, {}, {}, {}, {})
    unmatched: list[tuple[str, str]] = []
    for endpoint in results.get("endpoints", []):
        key = (endpoint["method"], endpoint["name"])
        route = _route_by_name(*key)
        if route is not None and (key[0], route) in routes:
            side.endpoint_routes[key] = (key[0], route)
            side.matched_by[key] = "name"
        else:
            unmatched.append(key)
    if unmatched:
        sample = run_dir / results.get("files", {}).get("requests", REQUESTS)
        _match_by_request_id(side, store, unmatched, sample)
    for key in set(side.endpoint_routes.values()):
        if routes[key]["findings"]:
            found = store.findings(route=key[1], limit=500)
            side.findings[key] = [f for f in found if f["method"] == key[0]]
        else:
            side.findings[key] = []
    return side


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _route_by_name(method: str, name: str) -> str | None:
    """With route grouping a client name is the route's name ("/" + a path-style route, or
    the URL name of a regex or catch-all, ``wagtail_serve[BlogPage]`` when split), query keys
    after ``?``; the "all requests" row (no method) has none."""
    return route_named(name) if method else None


def _match_by_request_id(side: ServerSide, store, keys: list[tuple[str, str]], csv_path: Path):
    """Look up a few sampled request ids per endpoint: one route for all of them is a match."""
    wanted = set(keys)
    ids: dict[tuple[str, str], list[str]] = {key: [] for key in keys}
    try:
        with open(csv_path, newline="") as f:
            for row in csv.DictReader(f):
                key = (row.get("method", ""), row.get("name", ""))
                if key in wanted and row.get("request_id") and len(ids[key]) < JOIN_SAMPLE:
                    ids[key].append(row["request_id"])
    except OSError:
        pass
    for key in keys:
        found = [store.request(request_id=rid) for rid in ids[key]]
        seen = {(r["method"], r["route"]) for r in found if r is not None and r["route"]}
        if len(seen) == 1 and (route := seen.pop()) in side.routes:
            side.endpoint_routes[key] = route
            side.matched_by[key] = "request id"
        elif len(seen) > 1:
            side.unmatched[key] = "its requests went to several routes"
        elif not ids[key]:
            side.unmatched[key] = (
                "no route of that name in the run's minutes, no sampled request ids"
            )
        else:
            side.unmatched[key] = "its request ids are not in the store"
