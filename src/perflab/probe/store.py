"""``RecordingStore``: the probe's own tables, written in batches, read by the API and CLI.

Never the app's database: a SQLite file (WAL) by default, or a configured database
alias. Per-request rows keep the scalar figures as columns (filterable) and the
lists (statements, cache calls, spans, findings) as one JSON document, compressed
when large. A statement's text is stored once, in ``perflab_statement``, and the
documents refer to it by hash: an app repeats the same few statements on every
request, and their text was most of each document (and of the writer's time).
The writer also maintains per-minute per-route rollups, with an HDR latency
histogram each, and per-fingerprint SQL totals, so summaries never scan requests.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections import defaultdict
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from perflab.probe.collector import collector_paused
from perflab.probe.database import DjangoAliasDatabase, SQLiteDatabase, StoreUnavailable
from perflab.probe.fingerprint import fingerprint_sql, text_hash
from perflab.probe.jsonbytes import to_json_bytes
from perflab.probe.records import QueryEvent, RequestRecord

HIST_MAX_US = 3_600_000_000  # an hour, in microseconds
HIST_DIGITS = 3

REQUEST_COLUMNS = (
    "request_id", "started", "method", "path", "route", "view", "status", "duration_ms",
    "cpu_ms", "db_ms", "query_count", "response_bytes", "user_id", "cache_hits",
    "cache_misses", "cache_ms", "template_ms", "finding_count", "profiled", "pid",
)  # fmt: skip


# Positions in a ``_request_row`` that the rollups read.
_STARTED, _METHOD, _ROUTE, _STATUS, _DURATION, _DB_MS, _QUERIES, _FINDINGS = (
    REQUEST_COLUMNS.index(name)
    for name in ("started", "method", "route", "status", "duration_ms", "db_ms", "query_count",
                 "finding_count")
)  # fmt: skip


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HIST_MAX_US, HIST_DIGITS)


@lru_cache(maxsize=1)
def _empty_histogram() -> str:
    """An empty histogram, encoded (a new rollup row's); making one took ~0.2 ms a batch."""
    return new_histogram().encode().decode()


# The tables the readers (API, CLI) query: a file holding none of them is not a probe store.
READ_TABLES = frozenset({
    "perflab_request", "perflab_route_minute", "perflab_statement", "perflab_sql",
    "perflab_finding", "perflab_counter",
})  # fmt: skip

# Store counters (``perflab_counter``) of records that never reached the store.
DROPPED = "dropped"  # queue full, or the store refused batches until the backlog overflowed
LOST_IN_DEAD_PROCESS = "lost_in_dead_process"  # queued in a process that was killed

COMPRESS_ABOVE = 2048  # bytes; zlib's setup costs more than it saves on small documents
# Statement texts outlive the oldest kept request by this much: writers in other
# processes (or hosts, with their own clocks) may be storing requests that use them.
STATEMENT_GRACE_S = 600.0


def _pack(document: Any) -> bytes:
    """JSON, zlib-compressed when large (a raw document starts with ``{``, zlib never does)."""
    raw = to_json_bytes(document)
    return zlib.compress(raw, 1) if len(raw) > COMPRESS_ABOVE else raw


def _unpack(blob) -> Any:
    if blob is None:
        return None
    data = bytes(blob)
    return json.loads(data if data[:1] == b"{" else zlib.decompress(data))


# A query as stored in a request's document: its text by hash (``text_hash``, the key in
# ``perflab_statement``), its fingerprint derived again when read (``RecordingStore.request``).
_QUERY_FIELDS = tuple(name for name in QueryEvent.__slots__ if name not in ("sql", "fingerprint"))
_query_values = attrgetter(*_QUERY_FIELDS)


def _document(record: RequestRecord, statements: dict[str, str]) -> dict[str, Any]:
    """The request's detail document; adds the statements it uses to ``statements``
    (hash -> text) for the batch's ``perflab_statement`` upsert."""
    queries = []
    for q in record.queries:
        key = text_hash(q.sql)
        statements[key] = q.sql
        row = dict(zip(_QUERY_FIELDS, _query_values(q), strict=True))
        row["sql_hash"] = key
        queries.append(row)
    return record.detail(queries)


def _percentile(hist: HdrHistogram, percent: float, max_ms: float) -> float:
    """Milliseconds; HDR reports a bucket's highest equivalent value, which can overshoot
    the true maximum by the histogram's precision: never report a percentile above it."""
    return min(hist.get_value_at_percentile(percent) / 1000, max_ms)


class RecordingStore:
    def __init__(self, database: SQLiteDatabase | DjangoAliasDatabase) -> None:
        self.database = database
        # Per thread (each has its own connection): ``database.generation()`` when this
        # thread last ensured the tables.
        self._schema = threading.local()

    @classmethod
    def at_path(cls, path: str | Path, read_only: bool = False) -> RecordingStore:
        """``read_only``: for readers of a store the probe wrote (the CLI): never creates
        the file or its tables, never takes a write lock."""
        return cls(SQLiteDatabase(Path(path), read_only=read_only))

    @classmethod
    def from_settings(cls, store: dict[str, str], read_only: bool = False) -> RecordingStore:
        if "ALIAS" in store:
            return cls(DjangoAliasDatabase(store["ALIAS"], read_only=read_only))
        return cls.at_path(store["PATH"], read_only=read_only)

    def __repr__(self) -> str:
        return repr(self.database)

    # -- schema ---------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the tables if missing; idempotent, safe from several processes at once.
        Again after a reconnection: the file may be a new one (deleted, replaced)."""
        db = self.database
        if db.read_only:
            return
        generation = db.generation()
        if getattr(self._schema, "at", None) == generation:
            return
        statements = [
            f"""CREATE TABLE IF NOT EXISTS perflab_request (
                id {db.autoincrement_id}, request_id TEXT NOT NULL, started DOUBLE PRECISION,
                method TEXT, path TEXT, route TEXT, view TEXT, status INTEGER,
                duration_ms DOUBLE PRECISION, cpu_ms DOUBLE PRECISION, db_ms DOUBLE PRECISION,
                query_count INTEGER, response_bytes BIGINT, user_id TEXT, cache_hits INTEGER,
                cache_misses INTEGER, cache_ms DOUBLE PRECISION, template_ms DOUBLE PRECISION,
                finding_count INTEGER, profiled INTEGER, pid INTEGER,
                detail {db.blob}, profile {db.blob})""",
            "CREATE INDEX IF NOT EXISTS perflab_request_rid ON perflab_request (request_id)",
            "CREATE INDEX IF NOT EXISTS perflab_request_started ON perflab_request (started)",
            "CREATE INDEX IF NOT EXISTS perflab_request_route ON perflab_request (route, started)",
            """CREATE TABLE IF NOT EXISTS perflab_route_minute (
                minute BIGINT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL,
                count BIGINT, errors BIGINT, sum_ms DOUBLE PRECISION, max_ms DOUBLE PRECISION,
                sum_queries BIGINT, max_queries INTEGER, sum_db_ms DOUBLE PRECISION,
                findings BIGINT, hist TEXT, PRIMARY KEY (minute, method, route))""",
            # Statement texts the documents refer to; last_seen: when a batch last used
            # it (retention drops texts that no kept request can refer to).
            """CREATE TABLE IF NOT EXISTS perflab_statement (
                sql_hash TEXT PRIMARY KEY, sql TEXT NOT NULL, last_seen DOUBLE PRECISION)""",
            """CREATE TABLE IF NOT EXISTS perflab_sql (
                fingerprint_hash TEXT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL,
                fingerprint TEXT, count BIGINT, total_ms DOUBLE PRECISION,
                max_ms DOUBLE PRECISION, last_seen DOUBLE PRECISION,
                PRIMARY KEY (fingerprint_hash, method, route))""",
            f"""CREATE TABLE IF NOT EXISTS perflab_finding (
                id {db.autoincrement_id}, request_row BIGINT, request_id TEXT,
                started DOUBLE PRECISION, method TEXT, route TEXT, kind TEXT,
                fingerprint_hash TEXT, fingerprint TEXT, callsite TEXT, count INTEGER,
                total_ms DOUBLE PRECISION, example_sql TEXT, hint TEXT, template TEXT,
                origin TEXT, location TEXT)""",
            "CREATE INDEX IF NOT EXISTS perflab_finding_row ON perflab_finding (request_row)",
            """CREATE TABLE IF NOT EXISTS perflab_counter (
                name TEXT PRIMARY KEY, value BIGINT NOT NULL)""",
            # Per writing process: records accounted for (written, or counted as dropped),
            # committed with each batch; with the process's ledger it tells what a process
            # that died held unwritten (``perflab.probe.ledger``).
            """CREATE TABLE IF NOT EXISTS perflab_writer (
                writer TEXT PRIMARY KEY, settled BIGINT NOT NULL, last_seen DOUBLE PRECISION)""",
        ]
        with db.cursor(write=True) as cursor:
            for statement in statements:
                cursor.execute(statement)
            self._add_missing_columns(cursor)
        self._schema.at = generation

    # Columns added to a table after its first release, for stores an older perflab made.
    _LATER_COLUMNS = {"perflab_finding": ("template", "origin", "location")}

    def _add_missing_columns(self, cursor) -> None:
        for table, columns in self._LATER_COLUMNS.items():
            present = {
                d[0] for d in cursor.execute(f"SELECT * FROM {table} LIMIT 0").raw.description
            }
            for column in columns:
                if column not in present:
                    cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    # -- writing --------------------------------------------------------------------------

    def write(
        self,
        records: list[RequestRecord],
        counters: dict[str, int] | None = None,
        writer: tuple[str, int] | None = None,
    ) -> None:
        """Store a batch in one transaction: requests, findings, rollups, SQL totals, and
        ``writer`` (its key, and how many records it has accounted for with this batch).

        The collector is paused while the batch is turned into rows and while they are
        inserted, not while the transaction waits for the store's lock or its commit."""
        self.ensure_schema()
        statements: dict[str, str] = {}
        with collector_paused():
            rows = [self._request_row(r, statements) for r in records]  # before the lock
        with self.database.cursor(write=True) as cursor, collector_paused():
            cursor.executemany(self._insert_sql, [row for row in rows if not row[_FINDINGS]])
            for record, row in zip(records, rows, strict=True):
                if row[_FINDINGS]:
                    self._insert_with_findings(cursor, record, row)
            self._merge_statements(cursor, statements)
            self._merge_rollups(cursor, rows)
            self._merge_sql_totals(cursor, records)
            for name, delta in (counters or {}).items():
                if delta:
                    self._bump_counter(cursor, name, delta)
            if writer is not None:
                cursor.execute(
                    """INSERT INTO perflab_writer (writer, settled, last_seen) VALUES (%s, %s, %s)
                       ON CONFLICT (writer) DO UPDATE
                       SET settled = excluded.settled, last_seen = excluded.last_seen""",
                    [*writer, time.time()],
                )

    _insert_sql = (
        f"INSERT INTO perflab_request ({', '.join(REQUEST_COLUMNS)}, detail, profile) "
        f"VALUES ({', '.join(['%s'] * (len(REQUEST_COLUMNS) + 2))})"
    )

    @staticmethod
    def _request_row(record: RequestRecord, statements: dict[str, str]) -> list:
        """The ``perflab_request`` row: ``REQUEST_COLUMNS``, then the detail and profile."""
        profile = zlib.compress(record.profile.encode(), 1) if record.profile else None
        return [
            record.request_id, record.started, record.method, record.path, record.route,
            record.view, record.status, record.duration_ms, record.cpu_ms, record.db_ms,
            record.query_count, record.response_bytes, record.user_id, record.cache_hits,
            record.cache_misses, record.cache_ms, record.template_ms, len(record.findings),
            int(record.profile is not None), record.pid, _pack(_document(record, statements)),
            profile,
        ]  # fmt: skip

    def _insert_with_findings(self, cursor, record: RequestRecord, request_row: list) -> None:
        row = cursor.execute(self._insert_sql + " RETURNING id", request_row).fetchone()[0]
        cursor.executemany(
            """INSERT INTO perflab_finding (request_row, request_id, started, method, route,
               kind, fingerprint_hash, fingerprint, callsite, count, total_ms, example_sql, hint,
               template, origin, location)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (
                    row,
                    record.request_id,
                    record.started,
                    record.method,
                    record.route,
                    f.kind,
                    f.fingerprint_hash,
                    f.fingerprint,
                    f.callsite,
                    f.count,
                    f.total_ms,
                    f.example_sql,
                    f.hint,
                    f.template,
                    f.origin,
                    f.location,
                )
                for f in record.findings
            ],
        )

    @staticmethod
    def _merge_statements(cursor, statements: dict[str, str]) -> None:
        """Store new texts; mark known ones as still used (``last_seen``, for ``trim``)."""
        if not statements:
            return
        now = time.time()
        cursor.executemany(
            """INSERT INTO perflab_statement (sql_hash, sql, last_seen) VALUES (%s, %s, %s)
               ON CONFLICT (sql_hash) DO UPDATE SET last_seen =
               CASE WHEN excluded.last_seen > perflab_statement.last_seen
               THEN excluded.last_seen ELSE perflab_statement.last_seen END""",
            [(key, sql, now) for key, sql in sorted(statements.items())],
        )

    def _merge_rollups(self, cursor, rows: list[list]) -> None:
        """Add a batch's requests (their ``_request_row``s) to their per-minute rollups."""
        groups: dict[tuple[int, str, str], list[list]] = defaultdict(list)
        for row in rows:
            groups[(int(row[_STARTED] // 60) * 60, row[_METHOD], row[_ROUTE])].append(row)
        empty = _empty_histogram()
        # Sorted: writers in several processes lock rows in one order (no deadlocks).
        for (minute, method, route), group in sorted(groups.items()):
            key = [minute, method, route]
            # Make sure the row exists, then lock it: concurrent writers merge, not overwrite.
            cursor.execute(
                """INSERT INTO perflab_route_minute (minute, method, route, count, errors,
                   sum_ms, max_ms, sum_queries, max_queries, sum_db_ms, findings, hist)
                   VALUES (%s, %s, %s, 0, 0, 0, 0, 0, 0, 0, 0, %s)
                   ON CONFLICT (minute, method, route) DO NOTHING""",
                [*key, empty],
            )
            old = cursor.execute(
                """SELECT count, errors, sum_ms, max_ms, sum_queries, max_queries, sum_db_ms,
                   findings, hist FROM perflab_route_minute
                   WHERE minute = %s AND method = %s AND route = %s"""
                + self.database.row_lock,
                key,
            ).fetchone()
            hist = HdrHistogram.decode(old[8].encode())
            durations = [row[_DURATION] for row in group]
            queries = [row[_QUERIES] for row in group]
            for duration_ms in durations:
                hist.record_value(max(1, min(HIST_MAX_US, round(duration_ms * 1000))))
            cursor.execute(
                """UPDATE perflab_route_minute SET count = %s, errors = %s, sum_ms = %s,
                   max_ms = %s, sum_queries = %s, max_queries = %s, sum_db_ms = %s,
                   findings = %s, hist = %s
                   WHERE minute = %s AND method = %s AND route = %s""",
                [
                    old[0] + len(group),
                    old[1] + sum(row[_STATUS] >= 500 for row in group),
                    old[2] + sum(durations),
                    max(old[3], *durations),
                    old[4] + sum(queries),
                    max(old[5], *queries),
                    old[6] + sum(row[_DB_MS] for row in group),
                    old[7] + sum(row[_FINDINGS] for row in group),
                    hist.encode().decode(),
                    *key,
                ],
            )

    def _merge_sql_totals(self, cursor, records: list[RequestRecord]) -> None:
        totals: dict[tuple[str, str, str], list] = {}
        for record in records:
            method, route, started = record.method, record.route, record.started
            for q in record.queries:
                key = (q.fingerprint_hash, method, route)
                entry = totals.get(key)
                ms = q.duration_ms
                if entry is None:
                    totals[key] = [q.fingerprint, 1, ms, ms, started]
                else:
                    entry[1] += 1
                    entry[2] += ms
                    if ms > entry[3]:
                        entry[3] = ms
                    entry[4] = started
        cursor.executemany(
            """INSERT INTO perflab_sql (fingerprint_hash, method, route, fingerprint, count,
               total_ms, max_ms, last_seen) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (fingerprint_hash, method, route) DO UPDATE SET
               count = perflab_sql.count + excluded.count,
               total_ms = perflab_sql.total_ms + excluded.total_ms,
               max_ms = CASE WHEN excluded.max_ms > perflab_sql.max_ms
                        THEN excluded.max_ms ELSE perflab_sql.max_ms END,
               last_seen = excluded.last_seen""",
            [(h, m, r, *values) for (h, m, r), values in sorted(totals.items())],
        )

    @staticmethod
    def _bump_counter(cursor, name: str, delta: int) -> None:
        cursor.execute(
            """INSERT INTO perflab_counter (name, value) VALUES (%s, %s)
               ON CONFLICT (name) DO UPDATE SET value = perflab_counter.value + excluded.value""",
            [name, delta],
        )

    def add_counters(self, counters: dict[str, int]) -> None:
        self.ensure_schema()
        with self.database.cursor(write=True) as cursor:
            for name, delta in counters.items():
                if delta:
                    self._bump_counter(cursor, name, delta)

    def settle_dead_writer(self, key: str, submitted: int, settled: int) -> int:
        """Count as lost what a process that died held unwritten: ``submitted`` records
        taken, less those accounted for (the larger of its ledger's ``settled`` and the
        store's, which is committed with each batch). Its row goes; returns the count."""
        self.ensure_schema()
        with self.database.cursor(write=True) as cursor:
            row = cursor.execute(
                "SELECT settled FROM perflab_writer WHERE writer = %s" + self.database.row_lock,
                [key],
            ).fetchone()
            lost = max(submitted - max(settled, row[0] if row else 0), 0)
            if lost:
                self._bump_counter(cursor, LOST_IN_DEAD_PROCESS, lost)
            cursor.execute("DELETE FROM perflab_writer WHERE writer = %s", [key])
        return lost

    def forget_writer(self, key: str) -> None:
        """A process that ended with everything accounted for has nothing left to settle."""
        self.ensure_schema()
        with self.database.cursor(write=True) as cursor:
            cursor.execute("DELETE FROM perflab_writer WHERE writer = %s", [key])

    def trim(self, max_requests: int, max_age_s: float, now: float | None = None) -> int:
        """Apply retention: at most ``max_requests`` requests, none older than ``max_age_s``."""
        self.ensure_schema()
        now = now or time.time()
        cutoff = now - max_age_s
        with self.database.cursor(write=True) as cursor:
            row = cursor.execute(
                "SELECT id FROM perflab_request ORDER BY id DESC LIMIT 1 OFFSET %s",
                [max_requests],
            ).fetchone()
            first_kept = row[0] + 1 if row else 0
            cursor.execute(
                "DELETE FROM perflab_finding WHERE request_row < %s OR started < %s",
                [first_kept, cutoff],
            )
            cursor.execute(
                "DELETE FROM perflab_request WHERE id < %s OR started < %s", [first_kept, cutoff]
            )
            deleted = cursor.raw.rowcount
            cursor.execute("DELETE FROM perflab_route_minute WHERE minute < %s", [cutoff])
            cursor.execute("DELETE FROM perflab_sql WHERE last_seen < %s", [cutoff])
            cursor.execute("DELETE FROM perflab_writer WHERE last_seen < %s", [cutoff])
            # A kept request was written after it started, and its texts marked then.
            oldest = cursor.execute("SELECT MIN(started) FROM perflab_request").fetchone()[0]
            horizon = now if oldest is None else oldest
            cursor.execute(
                "DELETE FROM perflab_statement WHERE last_seen < %s",
                [horizon - STATEMENT_GRACE_S],
            )
        return max(deleted, 0)

    # -- reading --------------------------------------------------------------------------

    def _read(self, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
        self.ensure_schema()
        with self.database.cursor() as cursor:
            return cursor.execute(sql, params).dicts()

    def routes(self, since: float | None = None, until: float | None = None) -> list[dict]:
        """Per route: count, error rate, p50/p95/p99, queries, DB-time share; ``findings``
        (findings per request, summed: the rollups'), and ``n_plus_one`` / ``duplicates``:
        how many distinct findings of each kind the route has (what there is to fix)."""
        rows = self._read(
            """SELECT method, route, count, errors, sum_ms, max_ms, sum_queries, max_queries,
               sum_db_ms, findings, hist FROM perflab_route_minute
               WHERE minute >= %s AND minute <= %s""",
            [(since or 0) // 60 * 60, until if until is not None else 1e12],
        )
        merged: dict[tuple[str, str], dict] = {}
        for row in rows:
            key = (row["method"], row["route"])
            entry = merged.get(key)
            hist = HdrHistogram.decode(row["hist"].encode())
            if entry is None:
                merged[key] = {**row, "hist": hist}
                continue
            entry["hist"].add(hist)
            for name in ("count", "errors", "sum_ms", "sum_queries", "sum_db_ms", "findings"):
                entry[name] += row[name]
            entry["max_ms"] = max(entry["max_ms"], row["max_ms"])
            entry["max_queries"] = max(entry["max_queries"], row["max_queries"])
        kinds = self._finding_kinds(since, until)
        summary = []
        for (method, route), e in merged.items():
            hist, count = e["hist"], e["count"]
            found = kinds.get((method, route), {})
            summary.append({
                "method": method,
                "route": route,
                "count": count,
                "error_rate": e["errors"] / count,
                "p50_ms": _percentile(hist, 50, e["max_ms"]),
                "p95_ms": _percentile(hist, 95, e["max_ms"]),
                "p99_ms": _percentile(hist, 99, e["max_ms"]),
                "mean_ms": e["sum_ms"] / count,
                "max_ms": e["max_ms"],
                "mean_queries": e["sum_queries"] / count,
                "max_queries": e["max_queries"],
                "db_share": e["sum_db_ms"] / e["sum_ms"] if e["sum_ms"] else 0.0,
                "findings": e["findings"],
                "n_plus_one": found.get("n_plus_one", 0),
                "duplicates": found.get("duplicate", 0),
            })  # fmt: skip
        return sorted(summary, key=lambda r: r["count"] * r["mean_ms"], reverse=True)

    def _finding_kinds(
        self, since: float | None, until: float | None
    ) -> dict[tuple[str, str], dict[str, int]]:
        """(method, route) -> kind -> distinct findings (by fingerprint and place)."""
        rows = self._read(
            """SELECT method, route, kind,
               COUNT(DISTINCT fingerprint_hash || ' ' || COALESCE(location, callsite, '')) AS n
               FROM perflab_finding WHERE started >= %s AND started <= %s
               GROUP BY method, route, kind""",
            [since or 0, until if until is not None else 1e12],
        )
        kinds: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for row in rows:
            kinds[(row["method"], row["route"])][row["kind"]] = row["n"]
        return kinds

    def requests(
        self,
        *,
        route: str | None = None,
        method: str | None = None,
        status: int | None = None,
        min_ms: float | None = None,
        since: float | None = None,
        with_findings: bool = False,
        order: str = "recent",
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict]:
        where, params = ["1 = 1"], []
        for column, value in (("route", route), ("method", method), ("status", status)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if min_ms is not None:
            where.append("duration_ms >= %s")
            params.append(min_ms)
        if since is not None:
            where.append("started >= %s")
            params.append(since)
        if with_findings:
            where.append("finding_count > 0")
        order_by = "duration_ms DESC" if order == "slowest" else "id DESC"
        return self._read(
            f"SELECT id, {', '.join(REQUEST_COLUMNS)} FROM perflab_request "
            f"WHERE {' AND '.join(where)} ORDER BY {order_by} LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )

    def request(self, row_id: int | None = None, request_id: str | None = None) -> dict | None:
        """One request in full, by row id or by its X-Request-ID."""
        column, value = ("id", row_id) if row_id is not None else ("request_id", request_id)
        rows = self._read(
            f"SELECT id, {', '.join(REQUEST_COLUMNS)}, detail FROM perflab_request "
            f"WHERE {column} = %s ORDER BY id DESC LIMIT 1",
            [value],
        )
        if not rows:
            return None
        row = rows[0]
        row.update(_unpack(row.pop("detail")))
        queries = row.get("queries", ())
        texts = self._statement_texts({q["sql_hash"] for q in queries if "sql_hash" in q})
        for query in queries:
            if "sql_hash" in query:  # stored once, in perflab_statement
                query["sql"] = texts.get(query.pop("sql_hash"), "")
            if "fingerprint" not in query:  # not stored: derived from the statement
                query["fingerprint"] = fingerprint_sql(query["sql"])
        return row

    def _statement_texts(self, keys: set[str]) -> dict[str, str]:
        if not keys:
            return {}
        ordered = sorted(keys)
        rows = self._read(
            f"SELECT sql_hash, sql FROM perflab_statement "
            f"WHERE sql_hash IN ({', '.join(['%s'] * len(ordered))})",
            ordered,
        )
        return {r["sql_hash"]: r["sql"] for r in rows}

    def profile(self, row_id: int) -> str | None:
        rows = self._read("SELECT profile FROM perflab_request WHERE id = %s", [row_id])
        if not rows or rows[0]["profile"] is None:
            return None
        return zlib.decompress(bytes(rows[0]["profile"])).decode()

    def sql(self, *, route: str | None = None, limit: int = 50) -> list[dict]:
        """SQL fingerprints by total time (over routes, or for one route)."""
        where, params = ("WHERE route = %s", [route]) if route else ("", [])
        return self._read(
            f"""SELECT fingerprint_hash, fingerprint, SUM(count) AS count,
                SUM(total_ms) AS total_ms, MAX(max_ms) AS max_ms, MAX(last_seen) AS last_seen,
                COUNT(*) AS routes FROM perflab_sql {where}
                GROUP BY fingerprint_hash, fingerprint ORDER BY total_ms DESC LIMIT %s""",
            [*params, limit],
        )

    def findings(
        self, *, route: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[dict]:
        """Findings grouped by what and where: how many requests, statements per request."""
        where, params = ["1 = 1"], []
        if route:
            where.append("route = %s")
            params.append(route)
        if kind:
            where.append("kind = %s")
            params.append(kind)
        # One request can hold several rows of one group (a duplicate finding is per SQL and
        # parameters: two repeated rows of one statement shape are two rows), so the inner
        # query makes one row per request and group: "requests" counts distinct requests
        # (COUNT(DISTINCT request_row)), "per request" sums a request's rows.
        return self._read(
            f"""SELECT kind, method, route, fingerprint_hash, place AS location,
                MAX(callsite) AS callsite, MAX(template) AS template, MAX(origin) AS origin,
                COUNT(*) AS requests,
                AVG(count) AS per_request, MAX(count) AS max_per_request,
                SUM(total_ms) AS total_ms, MAX(example_sql) AS example_sql, MAX(hint) AS hint,
                MAX(fingerprint) AS fingerprint, MAX(request_id) AS example_request_id
                FROM (SELECT kind, method, route, fingerprint_hash,
                      COALESCE(location, callsite) AS place, request_row,
                      MAX(callsite) AS callsite, MAX(template) AS template,
                      MAX(origin) AS origin, SUM(count) AS count, SUM(total_ms) AS total_ms,
                      MAX(example_sql) AS example_sql, MAX(hint) AS hint,
                      MAX(fingerprint) AS fingerprint, MAX(request_id) AS request_id
                      FROM perflab_finding WHERE {" AND ".join(where)}
                      GROUP BY kind, method, route, fingerprint_hash,
                      COALESCE(location, callsite), request_row
                ) AS per_request_row
                GROUP BY kind, method, route, fingerprint_hash, place
                ORDER BY total_ms DESC LIMIT %s""",
            [*params, limit],
        )

    def counters(self) -> dict[str, int]:
        return {
            r["name"]: r["value"] for r in self._read("SELECT name, value FROM perflab_counter")
        }

    def request_count(self) -> int:
        return self._read("SELECT COUNT(*) AS n FROM perflab_request")[0]["n"]


__all__ = [
    "DROPPED",
    "LOST_IN_DEAD_PROCESS",
    "READ_TABLES",
    "RecordingStore",
    "StoreUnavailable",
]
