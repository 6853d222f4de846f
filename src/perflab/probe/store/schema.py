"""The probe store's tables: each row's columns declared once, as a named tuple, and the
tables made from them on first use by any process that writes.

Never the app's database: a SQLite file by default (``perflab.probe.database``), or a
configured database alias. The writer side (``batches``) builds rows as these tuples and the
reader side (``reader``) selects their columns by name, so a column is named in one place.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple, Self, get_args, get_type_hints

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


class RouteMinute(NamedTuple):
    """A ``perflab_route_rollup`` row's figures: one route's requests in one minute (the key,
    ``minute, method, route``, is not part of it). ``hist`` is ``LatencyHistogram.encode``:
    exact min/max/sum, then the standard HdrHistogram base64 payload."""

    count: int
    errors: int
    sum_ms: float
    max_ms: float
    sum_queries: int
    max_queries: int
    sum_db_ms: float
    hist: str


class SqlMinute(NamedTuple):
    """A ``perflab_sql_rollup`` row's figures: one statement shape's executions on one route in
    one minute (key: ``minute, fingerprint_hash, method, route``)."""

    fingerprint: str
    count: int
    total_ms: float
    max_ms: float
    last_seen: float


_SQL_TYPES = {str: "TEXT", float: "DOUBLE PRECISION", int: "BIGINT"}


def _column_types(row: type[NamedTuple], blob: str) -> str:
    """``name TYPE, ...`` from a row's annotations (all nullable: a missing value is no reason
    to lose a batch); ``X | None`` is a column of X."""

    def sql_type(hint) -> str:
        kind = next((a for a in get_args(hint) if a is not type(None)), hint)
        return blob if kind is bytes else _SQL_TYPES[kind]

    hints = get_type_hints(row)
    return ", ".join(f"{name} {sql_type(hints[name])}" for name in row._fields)


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
        self._schema.at = generation


def _tables(db: SQLiteDatabase | DjangoAliasDatabase) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS perflab_request (
            id {db.autoincrement_id}, {_column_types(RequestRow, db.blob)})""",
        "CREATE INDEX IF NOT EXISTS perflab_request_rid ON perflab_request (request_id)",
        "CREATE INDEX IF NOT EXISTS perflab_request_started ON perflab_request (started)",
        "CREATE INDEX IF NOT EXISTS perflab_request_route ON perflab_request (route, started)",
        f"""CREATE TABLE IF NOT EXISTS perflab_route_rollup (
            minute BIGINT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL,
            {_column_types(RouteMinute, db.blob)}, PRIMARY KEY (minute, method, route))""",
        # Statement texts the documents refer to; last_seen: when a batch last used
        # it (retention drops texts that no kept request can refer to).
        """CREATE TABLE IF NOT EXISTS perflab_statement (
            sql_hash TEXT PRIMARY KEY, sql TEXT NOT NULL, last_seen DOUBLE PRECISION)""",
        f"""CREATE TABLE IF NOT EXISTS perflab_sql_rollup (
            minute BIGINT NOT NULL, fingerprint_hash TEXT NOT NULL, method TEXT NOT NULL,
            route TEXT NOT NULL, {_column_types(SqlMinute, db.blob)},
            PRIMARY KEY (minute, fingerprint_hash, method, route))""",
        f"""CREATE TABLE IF NOT EXISTS perflab_finding (
            id {db.autoincrement_id}, {_column_types(FindingRow, db.blob)})""",
        "CREATE INDEX IF NOT EXISTS perflab_finding_row ON perflab_finding (request_row)",
        "CREATE INDEX IF NOT EXISTS perflab_finding_started ON perflab_finding (started)",
        """CREATE TABLE IF NOT EXISTS perflab_counter (
            name TEXT PRIMARY KEY, value BIGINT NOT NULL)""",
        # Per writing process: records accounted for (written, or counted as dropped),
        # committed with each batch; with the process's ledger it tells what a process
        # that died held unwritten (``perflab.probe.ledger``).
        """CREATE TABLE IF NOT EXISTS perflab_writer (
            writer TEXT PRIMARY KEY, settled BIGINT NOT NULL, last_seen DOUBLE PRECISION)""",
    ]
