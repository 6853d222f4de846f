"""The store's writer side: a batch of records in one transaction, with the rollups, counters
and retention that go with it.

``perflab.probe.writer.BackgroundWriter`` (the thread that takes records off the request path)
calls this; nothing here runs on the request path. Per batch: request rows with one detail
document each (its statements by hash, their texts once in ``perflab_statement``), the
findings (stored once, in ``perflab_finding``: request listings and route summaries count
them there), route rollups (``LatencyHistogram`` each) and SQL totals per minute and per hour,
so summaries never scan requests and a week's summary reads hours, not minutes.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import defaultdict
from functools import lru_cache
from operator import attrgetter
from typing import Any

from perflab.histogram import LatencyHistogram
from perflab.probe.collector import collector_paused
from perflab.probe.fingerprint import text_hash
from perflab.probe.jsonbytes import to_json_bytes
from perflab.probe.records import QueryEvent, RequestRecord
from perflab.probe.store.schema import (
    FINDING_FIELDS,
    LOST_IN_DEAD_PROCESS,
    ROLLUP_LEVELS,
    ROUTE_HOURS,
    ROUTE_MINUTES,
    FindingRow,
    RequestRow,
    RollupLevel,
    RouteMinute,
    RunRow,
    StoreSchema,
    placeholders,
)
from perflab.probe.store.totals import merge_finding_groups, merge_sql_totals

COMPRESS_ABOVE = 2048  # bytes; zlib's setup costs more than it saves on small documents
# Statement texts outlive the oldest kept request by this much: writers in other
# processes (or hosts, with their own clocks) may be storing requests that use them.
STATEMENT_GRACE_S = 600.0


def pack(document: Any) -> bytes:
    """JSON, zlib-compressed when large (a raw document starts with ``{``, zlib never does)."""
    raw = to_json_bytes(document)
    return zlib.compress(raw, 1) if len(raw) > COMPRESS_ABOVE else raw


def unpack(blob) -> Any:
    if blob is None:
        return None
    data = bytes(blob)
    return json.loads(data if data[:1] == b"{" else zlib.decompress(data))


@lru_cache(maxsize=1)
def _empty_histogram() -> str:
    """An empty histogram, encoded (a new rollup row's)."""
    return LatencyHistogram().encode_sparse()


# A query as stored in a request's document: its text by hash (``text_hash``, the key in
# ``perflab_statement``), its fingerprint derived again when read (``StoreReader.request``).
_QUERY_FIELDS = tuple(name for name in QueryEvent.__slots__ if name not in ("sql", "fingerprint"))
_query_values = attrgetter(*_QUERY_FIELDS)
_finding_values = attrgetter(*FINDING_FIELDS)


_INSERT_REQUEST = (
    f"INSERT INTO perflab_request ({', '.join(RequestRow._fields)}) "
    f"VALUES ({placeholders(len(RequestRow._fields))})"
)
_INSERT_FINDING = (
    f"INSERT INTO perflab_finding ({', '.join(FindingRow._fields)}) "
    f"VALUES ({placeholders(len(FindingRow._fields))})"
)
_INSERT_RUN = (
    f"INSERT INTO perflab_run ({', '.join(RunRow._fields)}) "
    f"VALUES ({placeholders(len(RunRow._fields))}) ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in RunRow._fields[1:])
)


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


# A request row's columns up to ``profiled`` are the record's attributes of the same names.
_record_values = attrgetter(*RequestRow._fields[: RequestRow._fields.index("profiled")])


def _request_row(record: RequestRecord, statements: dict[str, str]) -> RequestRow:
    profile = zlib.compress(record.profile.encode(), 1) if record.profile else None
    return RequestRow(
        *_record_values(record),
        int(record.profile is not None),
        pack(_document(record, statements)),
        profile,
    )


class StoreBatches(StoreSchema):
    """What the probe's writer thread does to the store: batches, counters, retention."""

    def __init__(self, database) -> None:
        super().__init__(database)
        # (minute, method, route) -> the rollup histogram this process last wrote there, as
        # text and decoded: while no other process has merged into the row since, its text
        # is unchanged and the decoding can be skipped (most of a batch's rollup cost).
        self._rollups_written: dict[tuple[int, str, str], tuple[str, LatencyHistogram]] = {}

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
            rows = [_request_row(r, statements) for r in records]  # before the lock
        with self.database.cursor(write=True) as cursor, collector_paused():
            # Plain tuples: sqlite3 binds exact tuples and lists on its fast path; a named
            # tuple goes through the generic sequence protocol (~2 µs a row).
            cursor.executemany(
                _INSERT_REQUEST,
                [
                    tuple(row)
                    for record, row in zip(records, rows, strict=True)
                    if not record.findings
                ],
            )
            for record, row in zip(records, rows, strict=True):
                if record.findings:
                    self._insert_with_findings(cursor, record, row)
            self._merge_statements(cursor, statements)
            self._merge_route_rollups(cursor, rows)
            merge_sql_totals(cursor, records)
            merge_finding_groups(cursor, records)
            for name, delta in (counters or {}).items():
                if delta:
                    _bump_counter(cursor, name, delta)
            if writer is not None:
                cursor.execute(
                    """INSERT INTO perflab_writer (writer, settled, last_seen) VALUES (%s, %s, %s)
                       ON CONFLICT (writer) DO UPDATE
                       SET settled = excluded.settled, last_seen = excluded.last_seen""",
                    [*writer, time.time()],
                )

    @staticmethod
    def _insert_with_findings(cursor, record: RequestRecord, row: RequestRow) -> None:
        (inserted,) = cursor.execute(_INSERT_REQUEST + " RETURNING id", tuple(row)).dicts()
        of_request = (
            inserted["id"],
            record.request_id,
            record.started,
            record.method,
            record.route,
        )
        cursor.executemany(
            _INSERT_FINDING, [(*of_request, *_finding_values(f)) for f in record.findings]
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

    def _merge_route_rollups(self, cursor, rows: list[RequestRow]) -> None:
        """Add a batch's requests to their route rollups, per minute and per hour."""
        written, self._rollups_written = self._rollups_written, {}
        for level in (ROUTE_MINUTES, ROUTE_HOURS):
            groups: dict[tuple[str, int, str, str], list[RequestRow]] = defaultdict(list)
            span = level.seconds
            for row in rows:
                groups[
                    (level.table, int(row.started // span) * span, row.method, row.route)
                ].append(row)
            self._merge_route_level(cursor, level, groups, written)

    def _merge_route_level(
        self,
        cursor,
        level: RollupLevel,
        groups: dict[tuple[str, int, str, str], list[RequestRow]],
        written: dict[tuple[str, int, str, str], tuple[str, LatencyHistogram]],
    ) -> None:
        empty = RouteMinute(0, 0, 0.0, 0.0, 0, 0, 0.0, 0, 0, _empty_histogram())
        table, where = level.table, f"{level.time_column} = %s AND method = %s AND route = %s"
        # Sorted: writers in several processes lock rows in one order (no deadlocks).
        for key, group in sorted(groups.items()):
            row_key = key[1:]
            durations = [row.duration_ms for row in group]
            queries = [row.query_count for row in group]
            added = RouteMinute(
                count=len(group),
                errors=sum(row.status >= 500 for row in group),
                sum_ms=sum(durations),
                max_ms=max(durations),
                sum_queries=sum(queries),
                max_queries=max(queries),
                sum_db_ms=sum(row.db_ms for row in group),
                cache_hits=sum(row.cache_hits for row in group),
                cache_misses=sum(row.cache_misses for row in group),
                hist="",
            )
            last = written.get(key)
            if last is not None:
                # The histogram this process last wrote to the row, as decoded: while the row
                # still holds that text, one UPDATE adds the batch (``written`` is last
                # batch's, no longer anyone's cache, so it is updated in place).
                hist = last[1]
                hist.record_many_ms(durations)
                text = hist.encode_sparse()
                cursor.execute(
                    _add_to_route_row(table, where),
                    [*_route_deltas(added), text, *row_key, last[0]],
                )
                if cursor.raw.rowcount == 1:
                    self._rollups_written[key] = (text, hist)
                    continue
            # Make sure the row exists, then lock it: concurrent writers merge, not overwrite.
            cursor.execute(
                f"""INSERT INTO {table} ({level.time_column}, method, route,
                    {", ".join(RouteMinute._fields)})
                    VALUES (%s, %s, %s, {placeholders(len(RouteMinute._fields))})
                    ON CONFLICT ({level.time_column}, method, route) DO NOTHING""",
                [*row_key, *empty],
            )
            old = RouteMinute(
                *cursor.execute(
                    f"SELECT {', '.join(RouteMinute._fields)} FROM {table} "
                    f"WHERE {where}" + self.database.row_lock,
                    row_key,
                ).fetchone()
            )
            hist = (
                LatencyHistogram() if old.hist == empty.hist else LatencyHistogram.decode(old.hist)
            )
            hist.record_many_ms(durations)
            new = RouteMinute(
                count=old.count + added.count,
                errors=old.errors + added.errors,
                sum_ms=old.sum_ms + added.sum_ms,
                max_ms=max(old.max_ms, added.max_ms),
                sum_queries=old.sum_queries + added.sum_queries,
                max_queries=max(old.max_queries, added.max_queries),
                sum_db_ms=old.sum_db_ms + added.sum_db_ms,
                # A store made before these columns holds NULL in its older rows.
                cache_hits=(old.cache_hits or 0) + added.cache_hits,
                cache_misses=(old.cache_misses or 0) + added.cache_misses,
                hist=hist.encode_sparse(),
            )
            self._rollups_written[key] = (new.hist, hist)
            cursor.execute(
                f"UPDATE {table} SET "
                f"{', '.join(f'{name} = %s' for name in RouteMinute._fields)} WHERE {where}",
                [*new, *row_key],
            )

    def save_run(self, row: RunRow) -> None:
        """Insert a load-test run, or replace the one with its ``run_id`` (at its start, then
        with its outcome at its end)."""
        self.ensure_schema()
        with self.database.cursor(write=True) as cursor:
            cursor.execute(_INSERT_RUN, tuple(row))

    def add_counters(self, counters: dict[str, int]) -> None:
        self.ensure_schema()
        with self.database.cursor(write=True) as cursor:
            for name, delta in counters.items():
                if delta:
                    _bump_counter(cursor, name, delta)

    def settle_dead_writer(self, key: str, submitted: int, settled: int) -> int:
        """Count as lost what a process that died held unwritten: ``submitted`` records
        taken, less those accounted for (the larger of its ledger's ``settled`` and the
        store's, which is committed with each batch). Its row goes; returns the count."""
        self.ensure_schema()
        with self.database.cursor(write=True) as cursor:
            found = cursor.execute(
                "SELECT settled FROM perflab_writer WHERE writer = %s" + self.database.row_lock,
                [key],
            ).dicts()
            stored = found[0]["settled"] if found else 0
            lost = max(submitted - max(settled, stored), 0)
            if lost:
                _bump_counter(cursor, LOST_IN_DEAD_PROCESS, lost)
            cursor.execute("DELETE FROM perflab_writer WHERE writer = %s", [key])
        return lost

    def forget_writer(self, key: str) -> None:
        """A process that ended with everything accounted for has nothing left to settle."""
        self.ensure_schema()
        with self.database.cursor(write=True) as cursor:
            cursor.execute("DELETE FROM perflab_writer WHERE writer = %s", [key])

    def trim(self, max_requests: int, max_age_s: float, now: float | None = None) -> int:
        """Apply retention: at most ``max_requests`` requests, none older than ``max_age_s``;
        rollups and SQL totals by age only; runs are kept. Returns how many requests went."""
        self.ensure_schema()
        now = now or time.time()
        cutoff = now - max_age_s
        with self.database.cursor(write=True) as cursor:
            newest = cursor.execute(
                "SELECT id FROM perflab_request ORDER BY id DESC LIMIT 1 OFFSET %s",
                [max_requests],
            ).dicts()
            first_kept = newest[0]["id"] + 1 if newest else 0
            cursor.execute(
                "DELETE FROM perflab_finding WHERE request_row < %s OR started < %s",
                [first_kept, cutoff],
            )
            cursor.execute(
                "DELETE FROM perflab_request WHERE id < %s OR started < %s", [first_kept, cutoff]
            )
            deleted = cursor.raw.rowcount
            for level in ROLLUP_LEVELS:
                # A row goes once all of its span is older than the cutoff.
                cursor.execute(
                    f"DELETE FROM {level.table} WHERE {level.time_column} <= %s",
                    [cutoff - level.seconds],
                )
            cursor.execute("DELETE FROM perflab_writer WHERE last_seen < %s", [cutoff])
            # A kept request was written after it started, and its texts marked then.
            (oldest,) = cursor.execute("SELECT MIN(started) AS oldest FROM perflab_request").dicts()
            horizon = now if oldest["oldest"] is None else oldest["oldest"]
            cursor.execute(
                "DELETE FROM perflab_statement WHERE last_seen < %s",
                [horizon - STATEMENT_GRACE_S],
            )
        return max(deleted, 0)


@lru_cache(maxsize=8)
def _add_to_route_row(table: str, where: str) -> str:
    """An UPDATE adding a batch's figures to a route row that still holds a given histogram
    text (the last placeholder): sums added, maxima kept, the histogram replaced."""
    return f"""UPDATE {table} SET count = count + %s, errors = errors + %s,
        sum_ms = sum_ms + %s, max_ms = CASE WHEN max_ms >= %s THEN max_ms ELSE %s END,
        sum_queries = sum_queries + %s,
        max_queries = CASE WHEN max_queries >= %s THEN max_queries ELSE %s END,
        sum_db_ms = sum_db_ms + %s, cache_hits = COALESCE(cache_hits, 0) + %s,
        cache_misses = COALESCE(cache_misses, 0) + %s, hist = %s
        WHERE {where} AND hist = %s"""


def _route_deltas(added: RouteMinute) -> tuple:
    """``_add_to_route_row``'s figures, before the histogram text."""
    return (
        added.count, added.errors, added.sum_ms, added.max_ms, added.max_ms, added.sum_queries,
        added.max_queries, added.max_queries, added.sum_db_ms, added.cache_hits,
        added.cache_misses,
    )  # fmt: skip


def _bump_counter(cursor, name: str, delta: int) -> None:
    cursor.execute(
        """INSERT INTO perflab_counter (name, value) VALUES (%s, %s)
           ON CONFLICT (name) DO UPDATE SET value = perflab_counter.value + excluded.value""",
        [name, delta],
    )
