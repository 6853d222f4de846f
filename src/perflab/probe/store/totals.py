"""The writer's totals beside the route rollups: SQL by statement shape and route, per minute
and per hour, and findings by group per hour. Upserts that add to a row, so writers in
several processes sum rather than overwrite; rows in sorted order (one locking order)."""

from __future__ import annotations

from perflab.probe.records import RequestRecord
from perflab.probe.store.schema import (
    FINDING_HOURS,
    FINDING_MINUTES,
    SQL_HOURS,
    SQL_MINUTES,
    FindingHour,
    RollupLevel,
    SqlMinute,
    minute_of,
    placeholders,
)


def merge_sql_totals(cursor, records: list[RequestRecord]) -> None:
    """Add a batch's statements to their totals by shape and route, per minute and hour."""
    minutes: dict[tuple[int, str, str, str], list] = {}
    for record in records:
        method, route, started = record.method, record.route, record.started
        minute, request_id = minute_of(started), record.request_id
        for q in record.queries:
            key = (minute, q.fingerprint_hash, method, route)
            entry = minutes.get(key)
            ms = q.duration_ms
            if entry is None:  # as SqlMinute: fingerprint, count, total, max, last seen, id
                minutes[key] = [q.fingerprint, 1, ms, ms, started, request_id]
            else:
                entry[1] += 1
                entry[2] += ms
                if ms > entry[3]:
                    entry[3] = ms
                entry[4] = started
                entry[5] = request_id
    hours: dict[tuple[int, str, str, str], list] = {}
    for (minute, *rest), values in sorted(minutes.items()):
        key = (minute // 3600 * 3600, *rest)
        entry = hours.get(key)
        if entry is None:
            hours[key] = list(values)
        else:
            entry[1] += values[1]
            entry[2] += values[2]
            entry[3] = max(entry[3], values[3])
            entry[4], entry[5] = values[4], values[5]
    for level, totals in ((SQL_MINUTES, minutes), (SQL_HOURS, hours)):
        _upsert_sql_totals(cursor, level, totals)


_FINDING_GROUP = ("kind", "method", "route", "fingerprint_hash", "place")  # after the time
_FINDING_TEXTS = FindingHour._fields[FindingHour._fields.index("callsite") :]


def _greatest(table: str, name: str) -> str:
    """``name = `` the greater of the row's and the new value, as MAX() (NULL is least)."""
    return (
        f"{name} = CASE WHEN {table}.{name} IS NULL OR excluded.{name} > {table}.{name} "
        f"THEN excluded.{name} ELSE {table}.{name} END"
    )


def merge_finding_groups(cursor, records: list[RequestRecord]) -> None:
    """Add a batch's findings to their groups per minute and per hour: per request first
    (its rows of one group are one request, their counts summed), then per span."""
    per_request: list[tuple[float, tuple, list]] = []  # (started, group, figures)
    for record in records:
        if not record.findings:
            continue
        mine: dict[tuple, list] = {}
        for f in record.findings:
            place = f.location if f.location is not None else f.callsite
            group = (f.kind, record.method, record.route, f.fingerprint_hash, place or "")
            texts = (f.callsite, f.template, f.origin, f.example_sql, f.hint, f.fingerprint,
                     record.request_id)  # fmt: skip
            entry = mine.get(group)
            if entry is None:
                mine[group] = [1, f.count, f.total_ms, texts]
            else:
                entry[0] += 1
                entry[1] += f.count
                entry[2] += f.total_ms
                entry[3] = tuple(map(_max_text, entry[3], texts))
        per_request += [(record.started, group, figures) for group, figures in mine.items()]
    if per_request:
        for level in (FINDING_MINUTES, FINDING_HOURS):
            _merge_finding_level(cursor, level, per_request)


def _merge_finding_level(cursor, level: RollupLevel, per_request: list) -> None:
    hours: dict[tuple, list] = {}
    span = level.seconds
    for started, group, (rows, count, total_ms, texts) in per_request:
        key = (int(started // span) * span, *group)
        entry = hours.get(key)
        if entry is None:  # as FindingHour
            hours[key] = [1, rows, count, count, total_ms, *texts]
            continue
        entry[0] += 1
        entry[1] += rows
        entry[2] += count
        entry[3] = max(entry[3], count)
        entry[4] += total_ms
        entry[5:] = map(_max_text, entry[5:], texts)
    if not hours:
        return
    table, columns = level.table, (level.time_column, *_FINDING_GROUP)
    cursor.executemany(
        f"""INSERT INTO {table} ({", ".join((*columns, *FindingHour._fields))})
           VALUES ({placeholders(len(columns) + len(FindingHour._fields))})
           ON CONFLICT ({", ".join(columns)}) DO UPDATE SET
           requests = {table}.requests + excluded.requests,
           rows = {table}.rows + excluded.rows,
           count = {table}.count + excluded.count,
           max_count = CASE WHEN excluded.max_count > {table}.max_count
                       THEN excluded.max_count ELSE {table}.max_count END,
           total_ms = {table}.total_ms + excluded.total_ms,
           {", ".join(_greatest(table, name) for name in _FINDING_TEXTS)}""",
        [(*key, *values) for key, values in sorted(hours.items())],
    )


def _max_text(old: str | None, new: str | None) -> str | None:
    """MAX() of two values of a text column: NULL is least."""
    if old is None:
        return new
    return old if new is None or old >= new else new


def _upsert_sql_totals(cursor, level: RollupLevel, totals: dict[tuple, list]) -> None:
    """Add totals to a level's rows; the example and ``last_seen`` are the latest request's."""
    table, columns = level.table, (level.time_column, "fingerprint_hash", "method", "route")
    cursor.executemany(
        f"""INSERT INTO {table} ({", ".join((*columns, *SqlMinute._fields))})
           VALUES ({placeholders(len(columns) + len(SqlMinute._fields))})
           ON CONFLICT ({", ".join(columns)}) DO UPDATE SET
           count = {table}.count + excluded.count,
           total_ms = {table}.total_ms + excluded.total_ms,
           max_ms = CASE WHEN excluded.max_ms > {table}.max_ms
                    THEN excluded.max_ms ELSE {table}.max_ms END,
           last_seen = CASE WHEN excluded.last_seen >= {table}.last_seen
                       THEN excluded.last_seen ELSE {table}.last_seen END,
           example_request_id = CASE WHEN excluded.last_seen >= {table}.last_seen
                                OR {table}.example_request_id IS NULL
                                THEN excluded.example_request_id
                                ELSE {table}.example_request_id END""",
        [(*key, *values) for key, values in sorted(totals.items())],
    )
