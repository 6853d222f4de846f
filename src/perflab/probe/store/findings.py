"""The findings' groups (what and where) over a window: from the finding rows for windows of
up to a few hours, from their hourly groups (``perflab_finding_hour``) for longer ones, as the
route and SQL summaries read their rollups (``rollups``). ``StoreReader.findings`` lists
them; route summaries count them (``_finding_counts``)."""

from __future__ import annotations

from collections import defaultdict

from perflab.probe.store.rollups import Bounds, RollupReads, summary_hourly
from perflab.probe.store.schema import FINDING_HOURS, FindingHour

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
    """Findings over a ``Window``; hourly for windows longer than a few hours."""

    def _finding_groups(self, bounds: Bounds, filters: dict[str, str | None]) -> tuple[str, list]:
        """A query of finding groups in a window: one row per request and group (kind,
        route, statement shape, place) from the finding rows, or for the whole hours of a
        long window (from the hourly table's first full hour on) one per hour and group:
        the same groups either way."""
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

        hour = FINDING_HOURS.seconds
        covered = self._first_full_hour(FINDING_HOURS) if summary_hourly(bounds) else None
        if covered is None:
            return per_request(since, until, True)
        # Whole hours inside the window, from the hourly table's first full hour on.
        first = max(-(-since // hour) * hour, covered)
        end = until // hour * hour
        if first >= end:
            return per_request(since, until, True)
        parts = [(
            f"SELECT {_GROUP_COLUMNS} FROM {FINDING_HOURS.table} "
            f"WHERE hour >= %s AND hour < %s{where}",
            [first, end, *values],
        )]  # fmt: skip
        if since < first:
            parts.append(per_request(since, first, False))
        parts.append(per_request(end, until, True))
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
