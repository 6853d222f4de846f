"""perflab's tabs in Locust's own web UI: the run's exact percentiles, the server's side and
every test of the session with its files, refreshed while a test runs.

Locust's React UI is extended the way Locust documents it (examples/extend_web_ui.py), with no
JavaScript of perflab's: ``template_args`` names extra tabs (``extended_tabs``) and the columns
of each one's table (``extended_tables``), and the ``/stats/requests`` answer the UI polls every
2 s while a test runs carries each table's rows (``extended_stats``). A cell of those tables is
text, never a link, so perflab's figures are three tables — endpoints (client and server side
by side), findings, and the session's tests (``perflab.load.web_tests``) — and the links are in
Locust's "Download Data" tab (``extended_csv_files``): ``/perflab/tests``, a page listing every
test with a link to its report (``/perflab/tests/<n>/report``), and ``/perflab/report``, the
last test's, each served from the test's own run directory.

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
from pathlib import Path
from typing import Any

import msgspec

from perflab.load.grouping import route_named
from perflab.load.results import EndpointFigures
from perflab.load.stats import LoadStats
from perflab.load.web_tests import (
    COLUMNS,
    WebTest,
    report_of,
    session_rows,
    tests_page,
    written_report,
)
from perflab.probe.database import StoreUnavailable
from perflab.probe.store.reader import StoreReader, Window

__all__ = ["PerflabTab", "TabFigures", "tab_figures"]

logger = logging.getLogger(__name__)

REPORT_ROUTE = "/perflab/report"
TESTS_ROUTE = "/perflab/tests"
ENDPOINTS_TAB = "perflab"
FINDINGS_TAB = "perflab-findings"
TESTS_TAB = "perflab-tests"
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
    {"key": TESTS_TAB, "title": "perflab tests"},
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
    # the tests page's columns (the SLOs only with --slo); the tab's cells cannot link
    {"key": TESTS_TAB, "structure": [
        {"key": key, "title": "Report (links: Download Data)" if key == "report" else title}
        for key, title in COLUMNS
    ]},
]  # fmt: skip
# When Locust's answer says the test stopped, the answer waits this long at most for perflab
# to write the test's files: the UI stops polling after that answer, which must show them.
SETTLE_S = 30.0


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


class PerflabTab:
    """perflab's tabs in one Locust ``WebUI``: ``figures`` is asked for the current (or last)
    run's record each time the UI polls, ``tests`` for every test of the session so far, and
    ``settle`` waits for a stopped test's files; ``install`` before the UI serves its first
    request (Flask takes no new routes after that)."""

    def __init__(
        self, web_ui: Any, figures: Callable[[], TabFigures | None],
        tests: Callable[[], list[WebTest]] = list, settle: Callable[[float], None] | None = None,
        slos: bool = False,
    ) -> None:  # fmt: skip
        self.web_ui = web_ui
        self.figures = figures
        self.tests = tests
        self.settle = settle
        self.slos = slos  # --slo given: the tests have a verdict column
        # the last store read: (store, since, until), when (monotonic), what it gave
        self._server_cache: tuple[tuple, float, ServerFigures] | None = None

    def install(self) -> None:
        """Add the tabs, their rows to Locust's ``/stats/requests``, and perflab's pages (behind
        ``--web-login`` when it is on), under Locust's ``--web-base-path``."""
        from flask import Blueprint

        args = self.web_ui.template_args
        args["extended_tabs"] = [*args.get("extended_tabs", []), *TABS]
        args["extended_tables"] = [*args.get("extended_tables", []), *self._tables_shown()]
        args["extended_csv_files"] = [
            *args.get("extended_csv_files", []),
            {"href": f".{TESTS_ROUTE}", "title": "perflab: every test of this session, its report"},
            {"href": f".{REPORT_ROUTE}", "title": "perflab report of the test (once stopped)"},
        ]  # fmt: skip
        blueprint = Blueprint("perflab", __name__, url_prefix=self._base_path())
        guarded = self.web_ui.auth_required_if_enabled
        blueprint.add_url_rule(REPORT_ROUTE, "report", guarded(self._serve_report))
        blueprint.add_url_rule(TESTS_ROUTE, "tests", guarded(self._serve_tests))
        blueprint.add_url_rule(
            f"{TESTS_ROUTE}/<int:number>/report", "test_report", guarded(self._serve_test_report)
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

    def _tables_shown(self) -> list[dict[str, Any]]:
        """The tables' columns; the tests' SLO column only when ``--slo`` judges them."""
        if self.slos:
            return TABLES
        return [
            {**table, "structure": [c for c in table["structure"] if c["key"] != "slos"]}
            if table["key"] == TESTS_TAB else table
            for table in TABLES
        ]  # fmt: skip

    def tables(self) -> list[dict[str, Any]]:
        """Every perflab table's rows, as ``extended_stats`` carries them."""
        figures = self.figures()
        server = self._server_figures(figures)
        tests = session_rows(self.tests(), self._base_path() or "", time.time())
        return [
            {"key": ENDPOINTS_TAB, "data": endpoint_rows(figures, server)},
            {"key": FINDINGS_TAB, "data": finding_rows(figures, server)},
            {"key": TESTS_TAB, "data": tests},
        ]

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
            if data.get("state") == "stopped" and self.settle is not None:
                self.settle(SETTLE_S)  # the UI's last poll of this test: with its files
            data["extended_stats"] = [*(data.get("extended_stats") or []), *self.tables()]
        except Exception:
            logger.exception("perflab's tab could not be filled")
            return response
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return current_app.response_class(json.dumps(data), status=200, headers=headers)

    def _serve_report(self) -> Any:
        """The current (or last) run's report.html, once written; nothing else is served."""
        figures = self.figures()
        return _report_answer(written_report(figures.run_dir) if figures is not None else None)

    def _serve_tests(self) -> Any:
        """Every test of the session, each with a link to its report."""
        from flask import make_response

        page = tests_page(self.tests(), self._base_path() or "", time.time(), self.slos)
        answer = make_response(page, 200)
        answer.headers["Content-Type"] = "text/html; charset=utf-8"
        answer.headers["Cache-Control"] = "no-store"
        return answer

    def _serve_test_report(self, number: int) -> Any:
        """Test ``number``'s report.html, once written."""
        test = next((t for t in self.tests() if t.number == number), None)
        return _report_answer(report_of(test))


def _report_answer(report: Path | None) -> Any:
    from flask import make_response, send_file

    if report is None:
        return make_response("no report yet: it is written when the test stops\n", 404)
    return send_file(report, mimetype="text/html", max_age=0)
