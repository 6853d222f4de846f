"""`perflab inspect`: the probe's recordings as terminal tables (or JSON) from a store file."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perflab.errors import ExitCode, PerflabError

VIEWS = ("routes", "findings", "sql", "request", "requests")
KIND_LABELS = {"n_plus_one": "N+1", "duplicate": "duplicate"}


def default_store() -> Path:
    from perflab.datadir import data_dir

    return data_dir() / "probe.sqlite3"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show what the probe recorded: routes, findings, sql, requests, request ID",
        description="Read a probe store and print tables (or JSON with --json).",
    )
    parser.add_argument("view", choices=VIEWS)
    parser.add_argument("id", nargs="?", help="for `request`: a row id or an X-Request-ID")
    parser.add_argument("--store", type=Path, help=f"store file (default {default_store()})")
    parser.add_argument("--route", help="only this route pattern (requests, sql, findings)")
    parser.add_argument("--minutes", type=float, help="only the last N minutes (routes)")
    parser.add_argument("--limit", type=int, default=20, help="rows to show (default 20)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from perflab.probe.database import StoreUnavailable
    from perflab.probe.store import RecordingStore

    path = args.store or default_store()
    if not path.is_file():
        raise PerflabError(f"no probe store at {path} (serve the app with the probe first)")
    if args.limit < 1:
        raise PerflabError("--limit must be at least 1")
    if args.view == "request" and not args.id:
        raise PerflabError("`perflab inspect request` needs a row id or an X-Request-ID")
    store = RecordingStore.at_path(path)
    try:
        data = _read(store, args)
    except StoreUnavailable as exc:
        raise PerflabError(f"cannot read the store: {exc}", ExitCode.FAILED) from None
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        RENDERERS[args.view](data, console)
    return ExitCode.OK


def _read(store, args: argparse.Namespace):
    if args.view == "routes":
        since = None
        if args.minutes is not None:
            since = datetime.now(UTC).timestamp() - args.minutes * 60
        return store.routes(since=since)[: args.limit]
    if args.view == "findings":
        return store.findings(route=args.route, limit=args.limit)
    if args.view == "sql":
        return store.sql(route=args.route, limit=args.limit)
    if args.view == "requests":
        return store.requests(route=args.route, limit=args.limit)
    record = store.request(row_id=int(args.id)) if args.id.isdigit() else None
    record = record or store.request(request_id=args.id)
    if record is None:
        raise PerflabError(f"no recorded request {args.id!r} in the store")
    return record


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def render_routes(rows: list[dict], console: Console) -> None:
    table = Table(title="Routes (server side)")
    for name in ("route", "count", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms",
                 "queries (mean/max)", "DB share", "findings"):  # fmt: skip
        table.add_column(name, justify="left" if name == "route" else "right")
    for r in rows:
        table.add_row(
            escape(f"{r['method']} {r['route'] or '<unmatched>'}"), f"{r['count']:,}",
            f"{r['error_rate']:.1%}", _ms(r["p50_ms"]), _ms(r["p95_ms"]), _ms(r["p99_ms"]),
            _ms(r["max_ms"]), f"{r['mean_queries']:.1f} / {r['max_queries']}",
            f"{r['db_share']:.0%}", str(r["findings"]),
        )  # fmt: skip
    console.print(table)


def render_findings(rows: list[dict], console: Console) -> None:
    table = Table(title="Findings", show_lines=True)
    for name in ("kind", "route", "call site", "requests", "per request", "total ms", "hint"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            KIND_LABELS.get(r["kind"], r["kind"]), escape(f"{r['method']} {r['route']}"),
            escape(r["callsite"] or "-"), f"{r['requests']:,}", f"{r['per_request']:.0f}",
            _ms(r["total_ms"]), escape(r["hint"] or ""),
        )  # fmt: skip
    console.print(table)
    for r in rows[:5]:
        where = escape(r["callsite"] or "-")
        console.print(f"[dim]{r['kind']} at {where}:[/] " + escape(r["example_sql"][:200]))


def render_sql(rows: list[dict], console: Console) -> None:
    table = Table(title="SQL by total time")
    for name in ("total ms", "count", "mean ms", "max ms", "statement"):
        table.add_column(name, justify="left" if name == "statement" else "right")
    for r in rows:
        table.add_row(
            _ms(r["total_ms"]), f"{r['count']:,}", f"{r['total_ms'] / r['count']:.2f}",
            _ms(r["max_ms"]), escape(r["fingerprint"][:120]),
        )  # fmt: skip
    console.print(table)


def render_requests(rows: list[dict], console: Console) -> None:
    table = Table(title="Requests (newest first)")
    for name in ("id", "request id", "started", "request", "status", "ms", "queries", "findings"):
        table.add_column(name)
    for r in rows:
        started = datetime.fromtimestamp(r["started"], UTC).strftime("%H:%M:%S")
        table.add_row(
            str(r["id"]), r["request_id"], started, escape(f"{r['method']} {r['path']}"),
            str(r["status"]), _ms(r["duration_ms"]), str(r["query_count"]),
            str(r["finding_count"]),
        )  # fmt: skip
    console.print(table)


def render_request(r: dict, console: Console) -> None:
    console.print(
        f"[bold]{escape(r['method'] + ' ' + r['path'])}[/] → {r['status']}  "
        f"route {escape(repr(r['route']))}  "
        f"view {r['view']}\nrequest id {r['request_id']}  {_ms(r['duration_ms'])} ms wall, "
        f"{_ms(r['cpu_ms'])} ms CPU, {_ms(r['db_ms'])} ms SQL in {r['query_count']} queries, "
        f"{r['response_bytes']:,} bytes, user {r['user_id'] or '-'}"
    )
    table = Table(title="Statements")
    for name in ("#", "ms", "alias", "call site", "sql"):
        table.add_column(name)
    for i, q in enumerate(r["queries"]):
        table.add_row(str(i), f"{q['duration_ms']:.2f}", q["alias"], escape(q["callsite"] or "-"),
                      escape(q["sql"][:100]))  # fmt: skip
    console.print(table)
    if r["findings"]:
        render_findings([{**f, "method": r["method"], "route": r["route"], "requests": 1,
                    "per_request": f["count"]} for f in r["findings"]], console)  # fmt: skip
    for name in ("cache", "templates", "spans"):
        if r[name]:
            console.print(f"{name}: {r[name]}")


RENDERERS = {"routes": render_routes, "findings": render_findings, "sql": render_sql,
             "request": render_request, "requests": render_requests}  # fmt: skip
