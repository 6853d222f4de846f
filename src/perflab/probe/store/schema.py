"""The probe store's tables: each row's columns declared once, as a named tuple, and the
tables made from them on first use by any process that writes.

Never the app's database: a SQLite file by default (``perflab.probe.database``), or a
configured database alias. The writer side (``batches``) builds rows as these tuples and the
reader side (``reader``) selects their columns by name, so a column is named in one place.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, NamedTuple, Self, get_args, get_type_hints

from perflab.probe.database import DjangoAliasDatabase, SQLiteDatabase
from perflab.probe.records import Finding


class RequestRow(NamedTuple):
    """A ``perflab_request`` row after its ``id``: the scalar figures as columns (to filter
    on), the request's lists as one ``detail`` document, the profile when one was taken."""

    request_id: str
    started: float  # unix time, seconds
    method: str
    path: str
    route: str
    view: str
    status: int
    duration_ms: float
    cpu_ms: float
    db_ms: float
    query_count: int
    response_bytes: int
    user_id: str | None
    cache_hits: int
    cache_misses: int
    cache_ms: float
    template_ms: float
    pid: int
    profiled: int  # the columns above are the record's own attributes, by name
    detail: bytes  # JSON, zlib-compressed when large (``batches.pack``)
    profile: bytes | None  # zlib-compressed pyinstrument session


# What request listings return: every column but the two documents.
REQUEST_COLUMNS = RequestRow._fields[:-2]

# A finding as ``Finding`` declares it; the store keeps it once, in ``perflab_finding``.
FINDING_FIELDS: tuple[str, ...] = Finding.__slots__


class FindingRow(NamedTuple):
    """A ``perflab_finding`` row after its ``id``: the request it was found in (row id, and
    the columns findings are filtered and grouped by), then the ``Finding``'s fields."""

    request_row: int
    request_id: str
    started: float
    method: str
    route: str
    kind: str
    fingerprint_hash: str
    fingerprint: str
    callsite: str | None
    count: int
    total_ms: float
    example_sql: str
    hint: str | None
    template: str | None
    origin: str | None
    location: str | None


class FindingHour(NamedTuple):
    """A ``perflab_finding_hour`` row's figures: the findings of one kind, statement shape and
    place (``COALESCE(location, callsite, '')``) on one route in one hour (key: ``hour, kind,
    method, route, fingerprint_hash, place``), what ``StoreReader.findings`` groups finding
    rows into, summed so that findings are read without their rows; ``perflab_finding_minute``
    rows hold the same per minute."""

    requests: int  # requests with such a finding
    rows: int  # finding rows
    count: int  # statements, summed over the requests
    max_count: int  # the most statements in one request
    total_ms: float
    callsite: str | None  # the greatest of each text, as MAX() of the rows gives it
    template: str | None
    origin: str | None
    example_sql: str | None
    hint: str | None
    fingerprint: str | None
    example_request_id: str | None


class RouteMinute(NamedTuple):
    """A ``perflab_route_rollup`` row's figures: one route's requests in one minute (the key,
    ``minute, method, route``, is not part of it); ``perflab_route_hour`` rows hold the same
    figures per hour. ``hist`` is ``LatencyHistogram.encode_sparse`` (rows written before
    it: ``encode``, the HdrHistogram payload; ``LatencyHistogram.decode`` reads both)."""

    count: int
    errors: int
    sum_ms: float
    max_ms: float
    sum_queries: int
    max_queries: int
    sum_db_ms: float
    cache_hits: int
    cache_misses: int
    hist: str


class SqlMinute(NamedTuple):
    """A ``perflab_sql_rollup`` row's figures: one statement shape's executions on one route in
    one minute (key: ``minute, fingerprint_hash, method, route``); ``perflab_sql_hour`` rows
    the same per hour. ``example_request_id``: the X-Request-ID of the last request that ran
    it then (a statement to show or EXPLAIN)."""

    fingerprint: str
    count: int
    total_ms: float
    max_ms: float
    last_seen: float
    example_request_id: str | None


class RunRow(NamedTuple):
    """A ``perflab_run`` row: a load-test run that recorded into this store, saved by
    ``perflab run`` at its start and again at its end (``StoreBatches.save_run``)."""

    run_id: str
    started: float
    ended: float | None
    host: str
    status: str  # running, completed, failed, aborted, interrupted
    verdict: str | None  # pass or fail; None without SLOs
    requests: int
    failures: int
    p95_ms: float | None
    out_dir: str | None
    report: str | None  # absolute path of the run's report.html
    request_id_prefix: str  # every X-Request-ID the run sent starts with it
    command: str  # the command line, credentials masked


_SQL_TYPES = {str: "TEXT", float: "DOUBLE PRECISION", int: "BIGINT"}


def _column_definitions(row: type[NamedTuple], blob: str) -> dict[str, str]:
    """Each field's SQL type from the row's annotations (all nullable: a missing value is no
    reason to lose a batch); ``X | None`` is a column of X."""

    def sql_type(hint) -> str:
        kind = next((a for a in get_args(hint) if a is not type(None)), hint)
        return blob if kind is bytes else _SQL_TYPES[kind]

    hints = get_type_hints(row)
    return {name: sql_type(hints[name]) for name in row._fields}


def _column_types(row: type[NamedTuple], blob: str) -> str:
    """``name TYPE, ...`` for a CREATE TABLE."""
    return ", ".join(f"{name} {kind}" for name, kind in _column_definitions(row, blob).items())


class RollupLevel(NamedTuple):
    """One grain of the rollups: its table, its time column (the start of the span a row
    covers, unix seconds) and that span's length."""

    table: str
    time_column: str
    seconds: int


def minute_of(started: float) -> int:
    """The rollup minute (unix seconds, a multiple of 60) a request falls in."""
    return int(started // 60) * 60


def placeholders(n: int) -> str:
    """``%s, %s, …`` for ``n`` values."""
    return ", ".join(["%s"] * n)


# Per minute for short windows and timelines, per hour for long ones: one batch writes both.
ROUTE_MINUTES = RollupLevel("perflab_route_rollup", "minute", 60)
ROUTE_HOURS = RollupLevel("perflab_route_hour", "hour", 3600)
SQL_MINUTES = RollupLevel("perflab_sql_rollup", "minute", 60)
SQL_HOURS = RollupLevel("perflab_sql_hour", "hour", 3600)
FINDING_MINUTES = RollupLevel("perflab_finding_minute", "minute", 60)
FINDING_HOURS = RollupLevel("perflab_finding_hour", "hour", 3600)
ROLLUP_LEVELS = (
    ROUTE_MINUTES, ROUTE_HOURS, SQL_MINUTES, SQL_HOURS, FINDING_MINUTES, FINDING_HOURS,
)  # fmt: skip

# The tables the readers (API, CLI) query: a file holding none of them is not a probe store.
READ_TABLES = frozenset({
    "perflab_request", "perflab_route_rollup", "perflab_statement", "perflab_sql_rollup",
    "perflab_finding", "perflab_counter",
})  # fmt: skip

# Store counters (``perflab_counter``) of records that never reached the store.
DROPPED = "dropped"  # queue full, or the store refused batches until the backlog overflowed
LOST_IN_DEAD_PROCESS = "lost_in_dead_process"  # queued in a process that was killed


class StoreSchema:
    """A store's database and its tables; the writer and reader sides build on it."""

    def __init__(self, database: SQLiteDatabase | DjangoAliasDatabase) -> None:
        self.database = database
        # Per thread (each has its own connection): ``database.generation()`` when this
        # thread last ensured the tables.
        self._schema = threading.local()

    @classmethod
    def at_path(cls, path: str | Path, read_only: bool = False) -> Self:
        """``read_only``: for readers of a store the probe wrote (the CLI): never creates
        the file or its tables, never takes a write lock."""
        return cls(SQLiteDatabase(Path(path), read_only=read_only))

    @classmethod
    def from_settings(cls, store: dict[str, str], read_only: bool = False) -> Self:
        if "ALIAS" in store:
            return cls(DjangoAliasDatabase(store["ALIAS"], read_only=read_only))
        return cls.at_path(store["PATH"], read_only=read_only)

    def __repr__(self) -> str:
        return repr(self.database)

    def ensure_schema(self) -> None:
        """Create the tables if missing; idempotent, safe from several processes at once.
        Again after a reconnection: the file may be a new one (deleted, replaced)."""
        db = self.database
        if db.read_only:
            return
        generation = db.generation()
        if getattr(self._schema, "at", None) == generation:
            return
        with db.cursor(write=True) as cursor:
            for statement in _tables(db):
                cursor.execute(statement)
            _add_missing_columns(db, cursor)
        self._schema.at = generation

    def _read(self, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
        """Rows as dicts by column name."""
        self.ensure_schema()
        with self.database.cursor() as cursor:
            return cursor.execute(sql, params).dicts()

    def columns_of(self, table: str) -> frozenset[str]:
        """The columns ``table`` has (none when it is missing): a read-only reader of a store
        an older perflab made selects NULL in place of a column it lacks."""
        self.ensure_schema()
        known = getattr(self._schema, "columns", None)
        generation = self.database.generation()
        if known is None or known[0] != generation:
            known = self._schema.columns = (generation, {})
        if table not in known[1]:
            with self.database.cursor() as cursor:
                known[1][table] = frozenset(_present_columns(self.database, cursor, table))
        return known[1][table]


# The tables whose columns are a row's fields after their key: a store made by an older
# perflab gets the fields added since as columns (``_add_missing_columns``).
_ROW_TABLES: dict[str, type[NamedTuple]] = {
    "perflab_request": RequestRow,
    "perflab_finding": FindingRow,
    ROUTE_MINUTES.table: RouteMinute,
    ROUTE_HOURS.table: RouteMinute,
    SQL_MINUTES.table: SqlMinute,
    SQL_HOURS.table: SqlMinute,
    FINDING_MINUTES.table: FindingHour,
    FINDING_HOURS.table: FindingHour,
    "perflab_run": RunRow,
}


def _add_missing_columns(db: SQLiteDatabase | DjangoAliasDatabase, cursor) -> None:
    """ALTER TABLE ADD COLUMN for each field a table lacks. Inside the schema's write
    transaction: SQLite's BEGIN IMMEDIATE serialises processes, so the check and the change
    are one step; on PostgreSQL ``IF NOT EXISTS`` makes a concurrent addition a no-op."""
    for table, row in _ROW_TABLES.items():
        present = _present_columns(db, cursor, table)
        for name, definition in _column_definitions(row, db.blob).items():
            if name not in present:
                exists = "" if db.vendor == "sqlite" else "IF NOT EXISTS "
                cursor.execute(f"ALTER TABLE {table} ADD COLUMN {exists}{name} {definition}")


def _present_columns(db: SQLiteDatabase | DjangoAliasDatabase, cursor, table: str) -> set[str]:
    if db.vendor == "sqlite":
        return {r[1] for r in cursor.execute(f"PRAGMA table_info({table})").fetchall()}
    rows = cursor.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        [table],
    ).fetchall()
    return {r[0] for r in rows}


def _tables(db: SQLiteDatabase | DjangoAliasDatabase) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS perflab_request (
            id {db.autoincrement_id}, {_column_types(RequestRow, db.blob)})""",
        "CREATE INDEX IF NOT EXISTS perflab_request_rid ON perflab_request (request_id)",
        "CREATE INDEX IF NOT EXISTS perflab_request_started ON perflab_request (started)",
        # A route's requests in a window, and its slowest ones read from the index alone
        # (``StoreReader.requests``); it replaces the (route, started) index of older stores.
        "DROP INDEX IF EXISTS perflab_request_route",
        """CREATE INDEX IF NOT EXISTS perflab_request_route_time
           ON perflab_request (route, started, duration_ms)""",
        # Search by status: newest first along the index (a row id ends each entry).
        "CREATE INDEX IF NOT EXISTS perflab_request_status ON perflab_request (status)",
        # Search by path prefix: a range over the path in byte order (``path_order``).
        f"CREATE INDEX IF NOT EXISTS perflab_request_path ON perflab_request ({path_order(db)})",
        *(
            f"""CREATE TABLE IF NOT EXISTS {level.table} ({level.time_column} BIGINT NOT NULL,
            method TEXT NOT NULL, route TEXT NOT NULL, {_column_types(RouteMinute, db.blob)},
            PRIMARY KEY ({level.time_column}, method, route))"""
            for level in (ROUTE_MINUTES, ROUTE_HOURS)
        ),
        # Statement texts the documents refer to; last_seen: when a batch last used
        # it (retention drops texts that no kept request can refer to).
        """CREATE TABLE IF NOT EXISTS perflab_statement (
            sql_hash TEXT PRIMARY KEY, sql TEXT NOT NULL, last_seen DOUBLE PRECISION)""",
        *(
            f"""CREATE TABLE IF NOT EXISTS {level.table} ({level.time_column} BIGINT NOT NULL,
            fingerprint_hash TEXT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL,
            {_column_types(SqlMinute, db.blob)},
            PRIMARY KEY ({level.time_column}, fingerprint_hash, method, route))"""
            for level in (SQL_MINUTES, SQL_HOURS)
        ),
        f"""CREATE TABLE IF NOT EXISTS perflab_finding (
            id {db.autoincrement_id}, {_column_types(FindingRow, db.blob)})""",
        "CREATE INDEX IF NOT EXISTS perflab_finding_row ON perflab_finding (request_row)",
        "CREATE INDEX IF NOT EXISTS perflab_finding_started ON perflab_finding (started)",
        *(
            f"""CREATE TABLE IF NOT EXISTS {level.table} ({level.time_column} BIGINT NOT NULL,
            kind TEXT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL,
            fingerprint_hash TEXT NOT NULL, place TEXT NOT NULL,
            {_column_types(FindingHour, db.blob)},
            PRIMARY KEY ({level.time_column}, kind, method, route, fingerprint_hash, place))"""
            for level in (FINDING_MINUTES, FINDING_HOURS)
        ),
        """CREATE TABLE IF NOT EXISTS perflab_counter (
            name TEXT PRIMARY KEY, value BIGINT NOT NULL)""",
        # Per writing process: records accounted for (written, or counted as dropped),
        # committed with each batch; with the process's ledger it tells what a process
        # that died held unwritten (``perflab.probe.ledger``).
        """CREATE TABLE IF NOT EXISTS perflab_writer (
            writer TEXT PRIMARY KEY, settled BIGINT NOT NULL, last_seen DOUBLE PRECISION)""",
        # Load-test runs that recorded into this store (``perflab run`` saves them).
        f"""CREATE TABLE IF NOT EXISTS perflab_run ({_column_types(RunRow, db.blob)},
            PRIMARY KEY (run_id))""",
    ]


def path_order(db: SQLiteDatabase | DjangoAliasDatabase) -> str:
    """The request path as the path index orders it: by code point, so every path starting
    with ``p`` lies in ``[p, p + U+FFFF)``. PostgreSQL's default collation may order
    otherwise, so there the index and the queries name the "C" collation."""
    return "path" if db.vendor == "sqlite" else 'path COLLATE "C"'
