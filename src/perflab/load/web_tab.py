"""perflab's tabs in Locust's own web UI: the run's exact percentiles, the server's side and
where the run's files are, refreshed while a test runs.

Locust's React UI is extended the way Locust documents it (examples/extend_web_ui.py), with no
JavaScript of perflab's: ``template_args`` names extra tabs (``extended_tabs``) and the columns
of each one's table (``extended_tables``), and the ``/stats/requests`` answer the UI polls every
2 s while a test runs carries each table's rows (``extended_stats``). A cell of those tables is
text, never a link, so perflab's figures are three tables — endpoints (client and server side
by side), findings, and the run — and the report's link is in Locust's "Download Data" tab
(``extended_csv_files``), served by ``/perflab/report`` from the run's own directory.

The client figures are perflab's HDR statistics (``LoadStats``) converted as results.json
converts them, so the tab shows what the run directory will say. The server figures are read
from the probe's store (``perflab run --store``) read-only, for the run's window, in gevent's
thread pool: a store busy with the probe's writer never holds up the load generator's
greenlets.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from perflab.load.grouping import route_named
from perflab.load.results import RESULTS, EndpointFigures
from perflab.load.stats import LoadStats
from perflab.probe.database import StoreUnavailable
from perflab.probe.store.reader import StoreReader, Window

__all__ = ["PerflabTab", "TabFigures", "tab_figures"]

logger = logging.getLogger(__name__)

REPORT = "report.html"  # what perflab's report writes into a run directory
REPORT_ROUTE = "/perflab/report"
ENDPOINTS_TAB = "perflab"
FINDINGS_TAB = "perflab-findings"
RUN_TAB = "perflab-run"
# Locust's UI polls /stats/requests every 2 s while a test runs, from every open browser tab:
# the store is read at most once in that time.
SERVER_REFRESH_S = 2.0
FINDINGS_SHOWN = 50
NO_STORE = (
    "no server figures: run with --store PATH (the app's probe store, on this machine) for "
    "the server's per-route times, queries and findings"
)
KINDS = {"n_plus_one": "N+1", "duplicate": "duplicate"}

TABS = [
    {"key": ENDPOINTS_TAB, "title": "perflab"},
    {"key": FINDINGS_TAB, "title": "perflab findings"},
    {"key": RUN_TAB, "title": "perflab run"},
]
TABLES = [
    {"key": ENDPOINTS_TAB, "structure": [
        {"key": "method", "title": "Method"},
        {"key": "name", "title": "Name"},
        {"key": "requests", "title": "Requests"},
        {"key": "failures", "title": "Failures"},
        {"key": "rps", "title": "Req/s"},
        {"key": "p50", "title": "p50 (ms)"},
        {"key": "p95", "title": "p95 (ms)"},
        {"key": "p99", "title": "p99 (ms)"},
        {"key": "server_requests", "title": "Server requests"},
        {"key": "server_p50", "title": "Server p50 (ms)"},
        {"key": "server_p95", "title": "Server p95 (ms)"},
        {"key": "queries", "title": "Queries/request"},
        {"key": "n_plus_one", "title": "N+1"},
    ]},
    {"key": FINDINGS_TAB, "structure": [
        {"key": "finding", "title": "Finding"},
        {"key": "method", "title": "Method"},
        {"key": "route", "title": "Route"},
        {"key": "location", "title": "Where"},
        {"key": "requests", "title": "Requests"},
        {"key": "per_request", "title": "Statements per request"},
        {"key": "hint", "title": "Hint"},
    ]},
    {"key": RUN_TAB, "structure": [
        {"key": "item", "title": "Run"},
        {"key": "value", "title": ""},
    ]},
]  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class TabFigures:
    """What the run in progress (or the last one) tells perflab's tab each time the browser
    asks: its client figures as results.json will have them (perflab's HDR statistics, not
    Locust's), its run directory, and the probe store and window the server side is read for."""

    totals: EndpointFigures
    endpoints: list[EndpointFigures]  # sorted by name, then method
    run_dir: Path
    store: Path | None = None  # perflab run --store: the app's probe store on this machine
    since: float  # the run's start, epoch seconds: the server figures' window opens here
    until: float | None = None  # its end once stopped; open while it runs


def tab_figures(
    stats: LoadStats,
    run_dir: Path | str,
    store_path: Path | str | None,
    since: float,
    until: float | None = None,
) -> TabFigures:
    """The tab's record of a run from its statistics, each endpoint converted as results.json
    converts it; req/s over the time since ``since`` (up to ``until`` once it ended)."""
    duration = max((until if until is not None else time.time()) - since, 1e-9)

    def figures(report: dict[str, Any]) -> EndpointFigures:
        data = {**report, "rps": report["requests"] / duration}
        return msgspec.convert(data, EndpointFigures, strict=True)

    return TabFigures(
        totals=figures(stats.total()),
        endpoints=[figures(e) for e in stats.endpoints()],
        run_dir=Path(run_dir),
        store=Path(store_path) if store_path is not None else None,
        since=since,
        until=until,
    )


@dataclass(frozen=True)
class ServerFigures:
    """The store's side of the run's window: routes by (method, route), findings, or why none."""

    routes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


def read_server(store: Path, window: Window) -> ServerFigures:
    """The store's routes and findings for ``window``, read-only (nothing is created or
    locked); a store that cannot be read is a note, never an error in Locust's UI."""
    reader = StoreReader.at_path(store, read_only=True)
    try:
        routes = {(r["method"], r["route"]): r for r in reader.routes(window)}
        findings = reader.findings(window, limit=FINDINGS_SHOWN)
    except StoreUnavailable as exc:
        return ServerFigures(note=f"the probe store could not be read: {exc}")
    finally:
        reader.database.close()  # each read has its own connection: none is left open
    return ServerFigures(routes=routes, findings=findings)


def written_report(figures: TabFigures | None) -> Path | None:
    """The run's report.html once written: a file directly in a perflab run directory (one
    with results.json), never a path that leads elsewhere (a symlink out of it)."""
    if figures is None:
        return None
    run_dir = figures.run_dir.resolve()
    report = (run_dir / REPORT).resolve()
    if report.parent != run_dir or not report.is_file() or not (run_dir / RESULTS).is_file():
        return None
    return report


def _ms(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def endpoint_rows(figures: TabFigures | None, server: ServerFigures) -> list[dict[str, Any]]:
    """Each client endpoint with its route's server figures beside it (joined by name, as the
    report joins a run grouped by route), then the store's routes no endpoint named."""
    if figures is None:
        return []
    rows, joined = [], set()
    for endpoint in [*figures.endpoints, figures.totals]:
        row: dict[str, Any] = {
            "method": endpoint.method,
            "name": endpoint.name,
            "requests": endpoint.requests,
            "failures": endpoint.failures,
            "rps": round(endpoint.rps, 2),
            "p50": endpoint.latency.p50,
            "p95": endpoint.latency.p95,
            "p99": endpoint.latency.p99,
        }
        route = (endpoint.method, route_named(endpoint.name))
        if endpoint.method and route in server.routes:
            joined.add(route)
            row.update(_server_cells(server.routes[route]))
        rows.append(row)
    for route, figures_of_route in server.routes.items():
        if route not in joined:
            rows.append({"method": route[0], "name": route[1], **_server_cells(figures_of_route)})
    return rows


def _server_cells(route: dict[str, Any]) -> dict[str, Any]:
    return {
        "server_requests": route["count"],
        "server_p50": _ms(route["p50_ms"]),
        "server_p95": _ms(route["p95_ms"]),
        "queries": round(route["mean_queries"], 1),
        "n_plus_one": route["n_plus_one"],
    }


def finding_rows(figures: TabFigures | None, server: ServerFigures) -> list[dict[str, Any]]:
    """The run's findings, N+1 first, each where it ran; or one row saying why there are none."""
    if figures is None:
        return [{"finding": "no test started yet"}]
    if server.note:
        return [{"finding": server.note}]
    if not server.findings:
        return [{"finding": "no findings in this run's window (yet)"}]
    ordered = sorted(server.findings, key=lambda r: (r["kind"] != "n_plus_one", -r["total_ms"]))
    return [
        {
            "finding": KINDS.get(row["kind"], row["kind"]),
            "method": row["method"],
            "route": row["route"],
            # the store's listing gives the location (else the call site) as "location"
            "location": row["location"] or row["template"] or row["origin"] or "",
            "requests": row["requests"],
            "per_request": round(row["per_request"], 1),
            "hint": row["hint"] or "",
        }
        for row in ordered
    ]


def run_rows(
    figures: TabFigures | None, server: ServerFigures, state: str, report_link: str
) -> list[dict[str, str]]:
    """Where the run is: Locust's state, the run directory, its results and report."""
    rows = [{"item": "test", "value": state}]
    if figures is None:
        return [*rows, {"item": "run directory", "value": "made when a test starts"}]
    results = figures.run_dir / RESULTS
    report = written_report(figures)
    window = f"from {_clock(figures.since)} to " + (
        _clock(figures.until) if figures.until is not None else "now"
    )
    return [
        *rows,
        {"item": "run directory", "value": str(figures.run_dir)},
        {"item": "results", "value": str(results) if results.is_file() else "written at the end"},
        {
            "item": "report",
            "value": f"{report} (open it at {report_link}, or Download Data)"
            if report is not None
            else "written at the end",
        },
        {
            "item": "server figures",
            "value": server.note or f"{figures.store}, requests {window}",
        },
    ]


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


class PerflabTab:
    """perflab's tabs in one Locust ``WebUI``: ``figures`` is asked for the current (or last)
    run's record each time the UI polls; ``install`` before the UI serves its first request
    (Flask takes no new routes after that)."""

    def __init__(self, web_ui: Any, figures: Callable[[], TabFigures | None]) -> None:
        self.web_ui = web_ui
        self.figures = figures
        # the last store read: (store, since, until), when (monotonic), what it gave
        self._server_cache: tuple[tuple, float, ServerFigures] | None = None

    def install(self) -> None:
        """Add the tabs, their rows to Locust's ``/stats/requests`` and ``/perflab/report``
        (behind ``--web-login`` when it is on), under Locust's ``--web-base-path``."""
        from flask import Blueprint

        args = self.web_ui.template_args
        args["extended_tabs"] = [*args.get("extended_tabs", []), *TABS]
        args["extended_tables"] = [*args.get("extended_tables", []), *TABLES]
        args["extended_csv_files"] = [
            *args.get("extended_csv_files", []),
            {"href": f".{REPORT_ROUTE}", "title": "perflab report of the test (once stopped)"},
        ]
        blueprint = Blueprint("perflab", __name__, url_prefix=self._base_path())
        blueprint.add_url_rule(
            REPORT_ROUTE, "report", self.web_ui.auth_required_if_enabled(self._serve_report)
        )
        self.web_ui.app.register_blueprint(blueprint)
        # First in Flask's list, so it runs last (they run in reverse): a locustfile's own tab
        # that sets extended_stats outright, as Locust's example does, keeps perflab's rows.
        self.web_ui.app.after_request_funcs.setdefault(None, []).insert(0, self._extend_stats)

    def _base_path(self) -> str | None:
        """Locust's ``--web-base-path``, as its index route has it (``/base/``)."""
        try:
            rule = next(self.web_ui.app.url_map.iter_rules("locust.index"))
        except (KeyError, StopIteration):
            return None
        return rule.rule.rstrip("/") or None

    def tables(self) -> list[dict[str, Any]]:
        """Every perflab table's rows, as ``extended_stats`` carries them."""
        figures = self.figures()
        server = self._server_figures(figures)
        runner = self.web_ui.environment.runner
        state = f"{runner.state}, {runner.user_count} users" if runner is not None else "-"
        return [
            {"key": ENDPOINTS_TAB, "data": endpoint_rows(figures, server)},
            {"key": FINDINGS_TAB, "data": finding_rows(figures, server)},
            {"key": RUN_TAB, "data": run_rows(figures, server, state, self._report_path())},
        ]

    def _report_path(self) -> str:
        return (self._base_path() or "") + REPORT_ROUTE

    def _server_figures(self, figures: TabFigures | None) -> ServerFigures:
        if figures is None:
            return ServerFigures()
        if figures.store is None:
            return ServerFigures(note=NO_STORE)
        key = (figures.store, figures.since, figures.until)
        now = time.monotonic()
        cached = self._server_cache
        if cached is not None and cached[0] == key and now - cached[1] < SERVER_REFRESH_S:
            return cached[2]
        import gevent

        window = Window(figures.since, figures.until)
        server = gevent.get_hub().threadpool.apply(read_server, (figures.store, window))
        self._server_cache = (key, now, server)
        return server

    def _extend_stats(self, response: Any) -> Any:
        """Locust's ``/stats/requests`` answer with perflab's rows added (beside any other
        extension's). A new response: Locust keeps its answer for 2 s and hands the same object
        to every request meanwhile, while perflab's rows are made for each. A failure of
        perflab's is logged and leaves Locust's answer as it is."""
        from flask import current_app, request

        if request.endpoint != "locust.request_stats" or response.status_code != 200:
            return response
        try:
            data = json.loads(response.get_data())
            data["extended_stats"] = [*(data.get("extended_stats") or []), *self.tables()]
        except Exception:
            logger.exception("perflab's tab could not be filled")
            return response
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return current_app.response_class(json.dumps(data), status=200, headers=headers)

    def _serve_report(self) -> Any:
        """The current (or last) run's report.html, once written; nothing else is served."""
        from flask import make_response, send_file

        report = written_report(self.figures())
        if report is None:
            return make_response("no report yet: it is written when the test stops\n", 404)
        return send_file(report, mimetype="text/html", max_age=0)
