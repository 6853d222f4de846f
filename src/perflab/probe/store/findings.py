"""The findings' groups (what and where) over a window, from their groups per minute
(``perflab_finding_minute``) and per hour (``perflab_finding_hour``, for windows longer than a
few hours) as the route and SQL summaries read their rollups (``rollups``), and from the
finding rows for the partial minutes at either end. ``StoreReader.findings`` lists them;
route summaries count them (``_finding_counts``)."""

from __future__ import annotations

from collections import defaultdict

from perflab.probe.store.rollups import Bounds, RollupReads, summary_hourly
from perflab.probe.store.schema import FINDING_HOURS, FINDING_MINUTES, FindingHour, RollupLevel

# The hourly group's columns, and the same figures of one request's finding rows of a group.
_GROUP_COLUMNS = ", ".join(("kind", "method", "route", "fingerprint_hash", "place",
                            *FindingHour._fields))  # fmt: skip
_PLACE = "COALESCE(location, callsite, '')"
_PER_REQUEST = f"""kind, method, route, fingerprint_hash, {_PLACE} AS place, 1 AS requests,
    COUNT(*) AS rows, CAST(SUM(count) AS BIGINT) AS count,
    CAST(SUM(count) AS BIGINT) AS max_count, SUM(total_ms) AS total_ms,
    MAX(callsite) AS callsite, MAX(template) AS template, MAX(origin) AS origin,
    MAX(example_sql) AS example_sql, MAX(hint) AS hint, MAX(fingerprint) AS fingerprint,
    MAX(request_id) AS example_request_id"""


class FindingReads(RollupReads):
    """Findings over a ``Window``, from their groups per minute and per hour."""

    def _finding_groups(self, bounds: Bounds, filters: dict[str, str | None]) -> tuple[str, list]:
        """A query of finding groups in a window: one row per request and group (kind,
        route, statement shape, place) from the finding rows for the partial minutes at
        either end, one per minute and group for the whole minutes, one per hour and group
        for the whole hours of a long window: the same groups either way."""
        where = "".join(f" AND {name} = %s" for name, value in filters.items() if value)
        values = [value for value in filters.values() if value]
        since, until = bounds

        def per_request(low: float, high: float, inclusive: bool) -> tuple[str, list]:
            return (
                f"SELECT {_PER_REQUEST} FROM perflab_finding WHERE started >= %s "
                f"AND started {'<=' if inclusive else '<'} %s{where} "
                f"GROUP BY kind, method, route, fingerprint_hash, {_PLACE}, request_row",
                [low, high, *values],
            )

        def groups_of(level: RollupLevel, low: float, high: float) -> tuple[str, list]:
            column = level.time_column
            return (
                f"SELECT {_GROUP_COLUMNS} FROM {level.table} "
                f"WHERE {column} >= %s AND {column} < %s{where}",
                [low, high, *values],
            )

        # Whole minutes inside the window (from the minute table's first full one) from
        # minute groups, the partial minutes at either end from the finding rows.
        minute, hour = FINDING_MINUTES.seconds, FINDING_HOURS.seconds
        covered = self._first_full_span(FINDING_MINUTES)
        first = None if covered is None else max(-(-since // minute) * minute, covered)
        end = until // minute * minute
        if first is None or first >= end:
            return per_request(since, until, True)
        parts = [per_request(since, first, False)] if since < first else []
        parts.append(per_request(end, until, True))
        # Of those, the whole hours of a long window from hourly groups.
        hours = self._first_full_span(FINDING_HOURS) if summary_hourly(bounds) else None
        hour_first = None if hours is None else max(-(-first // hour) * hour, hours)
        hour_end = end // hour * hour
        if hour_first is None or hour_first >= hour_end:
            parts.append(groups_of(FINDING_MINUTES, first, end))
        else:
            parts += [
                groups_of(FINDING_MINUTES, first, hour_first),
                groups_of(FINDING_HOURS, hour_first, hour_end),
                groups_of(FINDING_MINUTES, hour_end, end),
            ]
        return " UNION ALL ".join(sql for sql, _ in parts), [a for _, args in parts for a in args]

    def _finding_counts(self, bounds: Bounds) -> dict[tuple[str, str], dict[str, tuple[int, int]]]:
        """(method, route) -> kind -> (distinct findings by fingerprint and place, rows)."""
        source, params = self._finding_groups(bounds, {})
        rows = self._read(
            f"""SELECT method, route, kind,
               COUNT(DISTINCT fingerprint_hash || ' ' || place) AS distinct_findings,
               CAST(SUM(rows) AS BIGINT) AS finding_rows FROM ({source}) AS groups
               GROUP BY method, route, kind""",
            params,
        )
        kinds: dict[tuple[str, str], dict[str, tuple[int, int]]] = defaultdict(dict)
        for row in rows:
            kinds[(row["method"], row["route"])][row["kind"]] = (
                row["distinct_findings"],
                row["finding_rows"],
            )
        return kinds
