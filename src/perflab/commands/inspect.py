"""`perflab inspect`: the probe's recordings as terminal tables (or JSON) from a store.

Which store: ``--store PATH``; else, when ``DJANGO_SETTINGS_MODULE`` is set, the project's own
(``PERFLAB["STORE"]``, a file or a database alias, read through Django and perflab's settings
parser, as the probe does); else ``$PERFLAB_DATA_DIR/probe.sqlite3``. A store that is not there
is a one-line error, never an empty store made on the spot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perflab.commands.arguments import (
    SQLITE_INTEGER_MAX,
    float_between,
    int_between,
    nonempty_path,
    utf8_text,
)
from perflab.errors import ExitCode, PerflabError
from perflab.probe.sqltext import shorten_sql
from perflab.report.location import location_of

VIEWS = ("routes", "findings", "sql", "request", "requests")
KIND_LABELS = {"n_plus_one": "N+1", "duplicate": "duplicate"}
NUMERIC_FINDING_COLUMNS = ("requests", "per request", "total ms")
SQL_CHARS = 160  # a statement in a table cell: long column lists collapsed, then cut
PATH_PAGE = 1000  # requests read per page while filtering by --path
NOT_SERVED = " (serve the app with the probe first)"
MAX_MINUTES = 10_000_000.0  # about 19 years: every store's whole life
MAX_LIMIT = 1_000_000_000
ROUTE_VIEWS = ("requests", "sql", "findings")  # the views --route filters


def default_store() -> Path:
    from perflab.datadir import STORE_FILE, data_dir

    return data_dir() / STORE_FILE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show what the probe recorded: routes, findings, sql, requests, request ID",
        description="Read a probe store and print tables (or JSON with --json). The store: "
        "--store, else the project's PERFLAB['STORE'] when DJANGO_SETTINGS_MODULE is set, "
        f"else {default_store()}.",
    )
    parser.add_argument("view", choices=VIEWS)
    parser.add_argument(
        "id", nargs="?", type=utf8_text, help="for `request`: a row id or an X-Request-ID"
    )
    parser.add_argument(
        "--store",
        type=nonempty_path,
        help="store file (default: PERFLAB['STORE'] of DJANGO_SETTINGS_MODULE when set, "
        f"else {default_store()})",
    )
    parser.add_argument("--route", type=utf8_text, help="only this route (requests, sql, findings)")
    parser.add_argument(
        "--path",
        type=utf8_text,
        help="requests: only this path (/api/posts/42/), or the paths starting with a prefix "
        "ending in * (/api/posts/*)",
    )
    parser.add_argument(
        "--minutes",
        type=float_between(0, MAX_MINUTES, above_low=True),
        help="only the last N minutes (routes, findings, sql, requests)",
    )
    parser.add_argument(
        "--limit", type=int_between(1, MAX_LIMIT), default=20, help="rows to show (default 20)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from perflab.probe.database import StoreUnavailable

    check_arguments(args)
    path_filter = path_matcher(args.path) if args.path is not None else None
    store = open_store(args.store)
    try:
        data = _read(store, args, path_filter)
    except StoreUnavailable as exc:
        raise PerflabError(f"cannot read the store: {exc}", ExitCode.FAILED) from None
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        RENDERERS[args.view](data, console)
    return ExitCode.OK


def check_arguments(args: argparse.Namespace) -> None:
    """Options that mean nothing for the view asked for are refused, not silently ignored."""
    if args.view == "request" and not args.id:
        raise PerflabError("`perflab inspect request` needs a row id or an X-Request-ID")
    if args.id is not None and args.view != "request":
        raise PerflabError(f"`perflab inspect {args.view}` takes no ID (did you mean `request`?)")
    if args.path is not None and args.view != "requests":
        raise PerflabError("--path filters `perflab inspect requests` only")
    if args.minutes is not None and args.view == "request":
        raise PerflabError("--minutes filters the listings, not `perflab inspect request`")
    if args.route is not None and args.view not in ROUTE_VIEWS:
        raise PerflabError(f"--route filters `perflab inspect {'|'.join(ROUTE_VIEWS)}` only")


def row_id(text: str) -> int | None:
    """``text`` as a store row id, or None when it can only be an X-Request-ID (a row id is
    ASCII digits within SQLite's INTEGER: "²" is a digit to ``str.isdigit`` but no number)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(SQLITE_INTEGER_MAX)):
        return None
    number = int(text)
    return number if number <= SQLITE_INTEGER_MAX else None


# -- which store --------------------------------------------------------------------------


def open_store(store: Path | None):
    """The store to read: ``--store``, else the project's (``DJANGO_SETTINGS_MODULE``), else
    the default file."""
    from perflab.report.probe_store import open_probe_store

    if store is not None:
        return open_probe_store(store)
    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    if module:
        return store_from_django_settings(module)
    return open_probe_store(default_store(), NOT_SERVED)


def store_from_django_settings(module: str):
    """``PERFLAB["STORE"]`` of the project, read the way the probe reads it: ``django.setup()``
    then perflab's settings parser (defaults and validation included)."""
    from perflab.report.probe_store import open_probe_store

    # As in `manage.py`'s directory: the project's package is importable from where we are.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        import django

        django.setup()
        from perflab.probe.settings import load_settings

        store = load_settings().STORE
    except Exception as exc:  # any error in the project's settings: one line, exit 2
        raise PerflabError(
            f"cannot read the store from DJANGO_SETTINGS_MODULE={module}: {_first_line(exc)}"
        ) from None
    if "ALIAS" in store:
        return _alias_store(store["ALIAS"], module)
    return open_probe_store(store["PATH"], f" (PERFLAB['STORE'] of {module}){NOT_SERVED}")


def _alias_store(alias: str, module: str):
    """The store on a database alias, if its tables are there (looked at, never created)."""
    from django.db import connections

    from perflab.probe.store.reader import StoreReader

    try:
        tables = connections[alias].introspection.table_names()
    except Exception as exc:  # unknown alias, database down, bad credentials
        raise PerflabError(
            f"cannot read the store on database alias {alias!r} "
            f"(PERFLAB['STORE'] of {module}): {_first_line(exc)}"
        ) from None
    if "perflab_route_rollup" not in tables:
        raise PerflabError(
            f"no probe store on database alias {alias!r} (PERFLAB['STORE'] of {module}){NOT_SERVED}"
        )
    return StoreReader.from_settings({"ALIAS": alias}, read_only=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# -- reading ------------------------------------------------------------------------------


def path_matcher(pattern: str) -> Callable[[str], bool]:
    """``--path``: one path exactly, or, ending in ``*``, every path starting with what is
    before it. Paths are recorded without their query string and start with "/" (added to
    the pattern when missing)."""
    if "?" in pattern:
        raise PerflabError("--path matches the path without its query string (drop the ?…)")
    if "*" in pattern[:-1]:
        raise PerflabError("--path takes a path, or a prefix ending in * (/api/posts/*)")
    if not pattern.startswith("/"):
        pattern = "/" + pattern
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return lambda path: path.startswith(prefix)
    return lambda path: path == pattern


def _read(store, args: argparse.Namespace, path_filter: Callable[[str], bool] | None):
    from perflab.probe.store.reader import Window

    window = Window.last_minutes(args.minutes)
    if args.view == "routes":
        return store.routes(window)[: args.limit]
    if args.view == "findings":
        return store.findings(window, route=args.route, limit=args.limit)
    if args.view == "sql":
        return store.sql(window, route=args.route, limit=args.limit)
    if args.view == "requests":
        if path_filter is None:
            return store.requests(window, route=args.route, limit=args.limit)
        return _requests_at_path(store, window, path_filter, args.route, args.limit)
    number = row_id(args.id)
    record = store.request(row_id=number) if number is not None else None
    record = record or store.request(request_id=args.id)
    if record is None:
        raise PerflabError(f"no recorded request {args.id!r} in the store")
    return record


def _requests_at_path(
    store, window, matches: Callable[[str], bool], route: str | None, limit: int
):  # fmt: skip
    """The newest ``limit`` requests whose path matches, read page by page (the store keeps
    a bounded number of requests, so this ends)."""
    found: list[dict[str, Any]] = []
    offset = 0
    while len(found) < limit:
        page = store.requests(window, route=route, limit=PATH_PAGE, offset=offset)
        found.extend(r for r in page if matches(r["path"] or ""))
        if len(page) < PATH_PAGE:
            break
        offset += PATH_PAGE
    return found[:limit]


# -- tables -------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def render_routes(rows: list[dict], console: Console) -> None:
    table = Table(title="Routes (server side)")
    for name in ("route", "count", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms",
                 "queries (mean/max)", "DB share", "N+1", "duplicates"):  # fmt: skip
        table.add_column(name, justify="left" if name == "route" else "right")
    for r in rows:
        table.add_row(
            escape(f"{r['method']} {r['route'] or '<unmatched>'}"), f"{r['count']:,}",
            f"{r['error_rate']:.1%}", _ms(r["p50_ms"]), _ms(r["p95_ms"]), _ms(r["p99_ms"]),
            _ms(r["max_ms"]), f"{r['mean_queries']:.1f} / {r['max_queries']}",
            f"{r['db_share']:.0%}", str(r["n_plus_one"]), str(r["duplicates"]),
        )  # fmt: skip
    console.print(table)


def render_findings(rows: list[dict], console: Console) -> None:
    table = Table(title="Findings", show_lines=True)
    for name in ("kind", "route", "where", "requests", "per request", "total ms", "hint"):
        table.add_column(name, justify="right" if name in NUMERIC_FINDING_COLUMNS else "left")
    for r in rows:
        table.add_row(
            KIND_LABELS.get(r["kind"], r["kind"]), escape(f"{r['method']} {r['route']}"),
            escape(location_of(r) or "-"), f"{r['requests']:,}", f"{r['per_request']:.0f}",
            _ms(r["total_ms"]), escape(r["hint"] or ""),
        )  # fmt: skip
    console.print(table)
    for r in rows[:5]:
        where = escape(location_of(r) or "-")
        sql = escape(shorten_sql(r["example_sql"], 200))
        console.print(f"[dim]{KIND_LABELS.get(r['kind'], r['kind'])} at {where}:[/] {sql}")


def render_sql(rows: list[dict], console: Console) -> None:
    table = Table(title="SQL by total time")
    for name in ("total ms", "count", "mean ms", "max ms", "statement"):
        table.add_column(name, justify="left" if name == "statement" else "right")
    for r in rows:
        table.add_row(
            _ms(r["total_ms"]), f"{r['count']:,}", f"{r['total_ms'] / r['count']:.2f}",
            _ms(r["max_ms"]), escape(shorten_sql(r["fingerprint"], SQL_CHARS)),
        )  # fmt: skip
    console.print(table)


def render_requests(rows: list[dict], console: Console) -> None:
    table = Table(title="Requests (newest first)")
    for name in ("id", "request id", "started", "request", "route", "status", "ms", "queries",
                 "findings"):  # fmt: skip
        table.add_column(name)
    for r in rows:
        started = datetime.fromtimestamp(r["started"], UTC).strftime("%H:%M:%S")
        table.add_row(
            str(r["id"]), r["request_id"], started, escape(f"{r['method']} {r['path']}"),
            escape(r["route"] or "-"), str(r["status"]), _ms(r["duration_ms"]),
            str(r["query_count"]), str(r["finding_count"]),
        )  # fmt: skip
    console.print(table)


# What a request's lists hold: (key, heading, format). A key the probe adds later is shown
# after these, as text, rather than hidden.
CACHE_COLUMNS = [("operation", "operation", str), ("cache", "cache", str),
                 ("keys", "keys", str), ("hits", "hits", str), ("misses", "misses", str),
                 ("start_ms", "start ms", lambda v: f"{v:.2f}"),
                 ("duration_ms", "ms", lambda v: f"{v:.2f}"),
                 ("location", "where", str)]  # fmt: skip
TEMPLATE_COLUMNS = [("name", "template", str), ("start_ms", "start ms", lambda v: f"{v:.2f}"),
                    ("duration_ms", "ms", lambda v: f"{v:.2f}"),
                    ("location", "where", str)]  # fmt: skip
SPAN_COLUMNS = [("name", "span", str), ("depth", "depth", str),
                ("start_ms", "start ms", lambda v: f"{v:.2f}"),
                ("duration_ms", "ms", lambda v: f"{v:.2f}")]  # fmt: skip


def render_events(title: str, rows: list[dict], columns: list, console: Console) -> None:
    """A request's cache calls, templates or spans as a table (not Python's repr of them)."""
    known = [key for key, _, _ in columns]
    extra = [key for key in dict.fromkeys(k for row in rows for k in row) if key not in known]
    table = Table(title=title)
    for key, heading, _ in columns:
        table.add_column(heading, justify="left" if key in ("operation", "cache", "name",
                         "location") else "right")  # fmt: skip
    for key in extra:
        table.add_column(key)
    for row in rows:
        cells = []
        for key, _, show in columns:
            value = row.get(key)
            cells.append("-" if value is None else show(value))
        cells.extend("-" if row.get(key) is None else str(row[key]) for key in extra)
        table.add_row(*(escape(cell) for cell in cells))
    console.print(table)


def render_request(r: dict, console: Console) -> None:
    console.print(
        f"[bold]{escape(r['method'] + ' ' + r['path'])}[/] → {r['status']}  "
        f"route {escape(repr(r['route']))}  "
        f"view {escape(str(r['view']))}\nrequest id {r['request_id']}  "
        f"{_ms(r['duration_ms'])} ms wall, {_ms(r['cpu_ms'])} ms CPU, {_ms(r['db_ms'])} ms SQL "
        f"in {r['query_count']} queries, {r['response_bytes']:,} bytes, "
        f"user {escape(str(r['user_id'] or '-'))}"
    )
    table = Table(title="Statements")
    for name in ("#", "ms", "alias", "where", "sql"):
        table.add_column(name, justify="right" if name in ("#", "ms") else "left")
    for i, q in enumerate(r["queries"]):
        table.add_row(str(i), f"{q['duration_ms']:.2f}", q["alias"], escape(location_of(q) or "-"),
                      escape(shorten_sql(q["sql"], SQL_CHARS)))  # fmt: skip
    console.print(table)
    if r["findings"]:
        render_findings([{**f, "method": r["method"], "route": r["route"], "requests": 1,
                    "per_request": f["count"]} for f in r["findings"]], console)  # fmt: skip
    for title, key, columns in (("Cache", "cache", CACHE_COLUMNS),
                                ("Templates", "templates", TEMPLATE_COLUMNS),
                                ("Spans", "spans", SPAN_COLUMNS)):  # fmt: skip
        if r.get(key):
            render_events(title, r[key], columns, console)


RENDERERS = {"routes": render_routes, "findings": render_findings, "sql": render_sql,
             "request": render_request, "requests": render_requests}  # fmt: skip
