"""``ReportData``: one run (results.json and the CSVs next to it) plus, optionally, its probe store.

The data model is kept apart from the sections that render it, the way pyinstrument keeps its
Session apart from its renderers: a section asks for figures here, never opens a file itself.
Everything is read once, lazily, so a section that is not shown costs nothing.
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from functools import cached_property
from pathlib import Path
from typing import Any

from perflab.errors import PerflabError
from perflab.load.results import MONITOR, REQUESTS, Environment, RunResults, load_results
from perflab.probe.store.reader import Window
from perflab.report.join import RouteJoin, join_routes, sampled_ids

STORE_WINDOW_LIMIT = 200_000  # server rows read for a run (the probe keeps 100,000 by default)


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None


class ReportData:
    """What the report shows, read from a run directory and (when there is one) a probe store."""

    def __init__(self, run_dir: Path | str, store: Path | str | None = None) -> None:
        self.run_dir = Path(run_dir)
        if not self.run_dir.exists():
            raise PerflabError(f"no run directory at {self.run_dir}")
        self.results: RunResults = load_results(self.run_dir)
        if self.run_dir.is_file():
            self.run_dir = self.run_dir.parent
        chosen = store if store is not None else self.results.probe_store
        self.store_path: Path | None = Path(chosen) if chosen else None
        self.store_note = ""  # why there are no server figures, when there are none
        self.store = self._open_store()

    def _open_store(self):
        from perflab.probe.store.reader import StoreReader
        from perflab.report.probe_store import probe_store_problem

        if self.store_path is None:
            self.store_note = "no probe store (run with --store, or pass --store to the report)"
            return None
        if not self.store_path.is_file():
            self.store_note = f"no probe store at {self.store_path}"
            return None
        problem = probe_store_problem(self.store_path)  # never add tables to another file
        if problem:
            self.store_note = problem
            return None
        return StoreReader.at_path(self.store_path, read_only=True)

    # -- the client side (the run directory) ----------------------------------------------

    @property
    def started(self) -> float:
        return self.results.started

    @property
    def ended(self) -> float:
        return self.results.ended

    @property
    def environment(self) -> Environment:
        return self.results.environment

    @property
    def settings(self) -> dict[str, Any]:
        return self.results.settings

    def _csv(self, key: str, default: str) -> list[dict[str, str]]:
        name = self.results.files.get(key, default)
        try:
            with open(self.run_dir / name, newline="") as f:
                return list(csv.DictReader(f))
        except FileNotFoundError:
            return []

    @cached_property
    def monitor(self) -> list[dict[str, float | None]]:
        """monitor.csv as numbers (None where the monitor did not know)."""
        return [{k: _number(v) for k, v in row.items()} for row in self._csv("monitor", MONITOR)]

    @cached_property
    def requests(self) -> list[dict[str, Any]]:
        """requests.csv: the join sample of client requests, with their request ids."""
        rows = []
        for row in self._csv("requests", REQUESTS):
            rows.append({
                "request_id": row.get("request_id") or "",
                "method": row.get("method") or "",
                "name": row.get("name") or "",
                "at": _number(row.get("at")),
                "latency_ms": _number(row.get("latency_ms")) or 0.0,
                "service_ms": _number(row.get("service_ms")),
                "error": row.get("error") or "",
            })  # fmt: skip
        return rows

    # -- the server side (the probe store) ------------------------------------------------

    @property
    def window(self) -> Window:
        """The run's time: every server figure (routes, findings, SQL) is read for it alone,
        so another run recorded into the same store does not show."""
        return Window(self.started, self.ended)

    @cached_property
    def server_routes(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The store's per-route figures over the run's minutes, by (method, route)."""
        if self.store is None:
            return {}
        return {(r["method"], r["route"]): r for r in self.store.routes(self.window)}

    @cached_property
    def server_requests(self) -> dict[str, dict[str, Any]]:
        """Server rows recorded during the run (scalar columns only), by request id."""
        if self.store is None or self.started is None:
            return {}
        # A second's slack at the start; the last responses are written after the end.
        around = Window(self.started - 1, self.ended + 5 if self.ended is not None else None)
        rows = self.store.requests(around, limit=STORE_WINDOW_LIMIT)
        return {r["request_id"]: r for r in rows}

    @cached_property
    def joined(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(client request, server request) pairs for the sampled requests the store knows."""
        server = self.server_requests
        return [(c, server[c["request_id"]]) for c in self.requests if c["request_id"] in server]

    @cached_property
    def route_join(self) -> RouteJoin:
        """Each endpoint's route (``perflab.report.join``: by name, else by request id)."""
        if self.store is None:
            return RouteJoin()
        endpoints = [(e.method, e.name) for e in self.results.endpoints]
        server = self.server_requests

        def route_of_request(request_id: str) -> tuple[str, str] | None:
            row = server.get(request_id)
            return (row["method"], row["route"]) if row is not None else None

        return join_routes(endpoints, self.server_routes, sampled_ids(self.requests),
                           route_of_request)  # fmt: skip

    def server_for(self, method: str, name: str) -> dict[str, Any] | None:
        """A client endpoint's server figures, or None (``route_join.unmatched`` says why)."""
        route = self.route_join.route_for(method, name)
        return self.server_routes[route] if route is not None else None

    @cached_property
    def queue_ms(self) -> dict[tuple[str, str], float]:
        """Median (client service time - server duration) per endpoint, from the join."""
        gaps: dict[tuple[str, str], list[float]] = defaultdict(list)
        for client, server in self.joined:
            client_ms = client["service_ms"] if client["service_ms"] is not None else None
            if client_ms is None:
                client_ms = client["latency_ms"]
            gaps[(client["method"], client["name"])].append(client_ms - server["duration_ms"])
        return {key: statistics.median(values) for key, values in gaps.items()}

    @cached_property
    def cache_hit_rate(self) -> dict[tuple[str, str], float]:
        """Per (method, route): cache hits / lookups over the run's server rows with any."""
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for row in self.server_requests.values():
            hits, misses = row["cache_hits"] or 0, row["cache_misses"] or 0
            if hits or misses:
                entry = totals[(row["method"], row["route"])]
                entry[0] += hits
                entry[1] += hits + misses
        return {key: hits / lookups for key, (hits, lookups) in totals.items()}

    def findings(self, kind: str, limit: int = 30) -> list[dict[str, Any]]:
        return self.store.findings(self.window, kind=kind, limit=limit) if self.store else []

    def sql(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.store.sql(self.window, limit=limit) if self.store else []

    def request_detail(self, request_id: str) -> dict[str, Any] | None:
        return self.store.request(request_id=request_id) if self.store else None

    def profile(self, row_id: int) -> str | None:
        return self.store.profile(row_id) if self.store else None
