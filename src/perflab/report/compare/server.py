"""The server side of a run: what the probe store recorded while it ran, matched to endpoints.

Client figures come from each run's ``results.json`` (read with ``load_results``); server
figures (queries per request, N+1 and duplicate findings) from the probe store the run
recorded (``perflab run --store``), restricted to the minutes the run spanned. Client names
meet server routes as in the report (``perflab.report.join``); what cannot be matched is left
unmatched and says why: a comparison that guesses would gate a pull request on noise.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perflab.errors import PerflabError
from perflab.load.results import REQUESTS, RunResults, load_results
from perflab.report.join import join_routes, sampled_ids
from perflab.report.probe_store import probe_store_problem


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
    results: RunResults
    server: ServerSide | None = None
    server_note: str | None = None  # why there is no server side

    @property
    def name(self) -> str:
        return self.results.label or self.path.name


def load_run(path: Path | str, store: Path | str | None = None) -> Run:
    """A run and its server side; ``store`` overrides the run's recorded ``probe_store``.

    A store given explicitly must be readable (bad input otherwise); a recorded one that has
    gone missing only loses the server columns, since the client figures still compare.
    """
    path = Path(path)
    results = load_results(path)
    run = Run(path if path.is_dir() else path.parent, results)
    recorded = results.probe_store
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
    except StoreUnavailable as exc:
        if store is not None:
            raise PerflabError(f"cannot read the probe store: {exc}") from None
        run.server_note = f"cannot read the recorded probe store: {exc}"
    return run


def read_server_side(results: RunResults, store_path: Path | str, run_dir: Path) -> ServerSide:
    """Routes in the run's minutes, each client endpoint's route, and its routes' findings."""
    from perflab.probe.store.reader import StoreReader, Window

    store = StoreReader.at_path(store_path, read_only=True)
    since, until = results.started, results.ended
    window = Window(since, until)  # routes and findings of this run only
    routes = {(row["method"], row["route"]): row for row in store.routes(window) if row["route"]}
    endpoints = [(e.method, e.name) for e in results.endpoints]
    sample = run_dir / results.files.get("requests", REQUESTS)
    join = join_routes(endpoints, routes, _sampled_ids(sample), _route_of_request(store))
    side = ServerSide(str(Path(store_path).resolve()), since, until, routes, {},
                      join.routes, join.matched_by, join.unmatched)  # fmt: skip
    for key in set(side.endpoint_routes.values()):
        if routes[key]["findings"]:
            found = store.findings(window, route=key[1], limit=500)
            side.findings[key] = [f for f in found if f["method"] == key[0]]
        else:
            side.findings[key] = []
    return side


def _sampled_ids(csv_path: Path) -> dict[tuple[str, str], list[str]]:
    try:
        with open(csv_path, newline="") as f:
            return sampled_ids(csv.DictReader(f))
    except OSError:
        return {}


def _route_of_request(store):
    def route_of_request(request_id: str) -> tuple[str, str] | None:
        row = store.request(request_id=request_id)
        return (row["method"], row["route"]) if row is not None else None

    return route_of_request
