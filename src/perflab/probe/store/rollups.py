"""Reads of the rollups at the grain a window needs: per minute for short windows, per hour for
the whole hours of long ones, and the time series (``timeline``) the dashboard charts.

A week of per-minute rows is ~10,000 rows per route; per hour, 168. A long window reads its
whole hours from the hourly rows and its partial hours at either end from the minute rows,
so it gives the figures the minutes would. Hourly rows exist from the hour the store's first
writer with hourly rollups started (a store made before them holds only minutes), so the
hours before the hourly table's first complete hour are read from the minute rows too.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence

from perflab.histogram import LatencyHistogram
from perflab.probe.store.schema import (
    ROUTE_HOURS,
    ROUTE_MINUTES,
    RollupLevel,
    StoreSchema,
)

# A window's closed bounds in unix seconds, as ``Window.bounds()`` gives them.
Bounds = tuple[float, float]

# Windows longer than this read hourly rows (summaries of routes and SQL): ~30 routes by 180
# minutes is ~5,000 minute rows, the most a page can decode in its budget.
HOURLY_ABOVE_S = 3 * 3600
# Timelines keep minutes longer (their buckets need the resolution): all routes merged up to
# 6 hours, one route's up to 2 days.
TIMELINE_HOURLY_ABOVE_S = 6 * 3600
ROUTE_TIMELINE_HOURLY_ABOVE_S = 48 * 3600


def window_span(bounds: Bounds, now: float | None = None) -> float:
    """The window's length in seconds; an open end is now, an open start the epoch."""
    since, until = bounds
    end = min(until, now if now is not None else time.time())
    return max(end - since, 0.0)


def summary_hourly(bounds: Bounds, now: float | None = None) -> bool:
    """Whether a summary over a window (routes, SQL, findings) reads hourly rows."""
    return window_span(bounds, now) > HOURLY_ABOVE_S


# Hourly rows that started before the hour before the current one are settled: writers flush
# within seconds, so they change rarely, and the histograms merged of them are kept.
SETTLED_BEFORE_S = 3600
_KEPT_MERGES = 4096  # merged histograms a reader keeps at most (~30 routes by a few windows)


def endpoints_filter(route: str, vendor: str) -> tuple[str, list[str]]:
    """A ``WHERE`` part (and its parameters) for a route and its endpoints, the routes named
    ``route[…]`` (``perflab.probe.routes.served_name``): the route itself, or a name from
    ``route[`` up to ``route\\`` (``\\`` follows ``[``) by code point — PostgreSQL's default
    collation may order otherwise, so there the comparison names the "C" collation."""
    name = "route" if vendor == "sqlite" else 'route COLLATE "C"'
    return f"(route = %s OR ({name} >= %s AND {name} < %s))", [route, route + "[", route + "\\"]


class RollupReads(StoreSchema):
    """The rollup tables as one source of rows over a window, and the timeline built on it.

    A summary over a week merges ~5,000 hourly histograms. A reader keeps, per route (or
    timeline bucket), what it merged of settled hourly rows (started before the previous
    hour), checked against those rows' signature (how many, their counts and sums, first and
    last start: rows only grow, with every request merged in, or go, with retention), so a
    summary read again, its window moved by seconds, merges the minute rows at its ends and
    the last two hours only, and reads rows that changed again."""

    def __init__(self, database) -> None:
        super().__init__(database)
        self._merges: dict[tuple, tuple[tuple, LatencyHistogram]] = {}

    def _select(self, table: str, names: Sequence[str]) -> str:
        """``names`` as a select list; NULL for a column an older store's table lacks (a
        read-only reader cannot add it)."""
        if not self.database.read_only:
            return ", ".join(names)
        present = self.columns_of(table)
        return ", ".join(name if name in present else f"NULL AS {name}" for name in names)

    def _first_full_span(self, hours: RollupLevel) -> float | None:
        """The start of a level's first span its table holds whole: the one after its
        first row's (that span may have begun before the table was written, or lost part
        to retention). None when it has no rows."""
        if self.database.read_only and not self.columns_of(hours.table):
            return None
        (row,) = self._read(f"SELECT MIN({hours.time_column}) AS first FROM {hours.table}")
        return None if row["first"] is None else row["first"] + hours.seconds

    def _rollup_source(
        self,
        levels: tuple[RollupLevel, RollupLevel],
        bounds: Bounds,
        columns: Sequence[str],
        *,
        hourly: bool,
        where: str = "",
        params: Sequence = (),
    ) -> tuple[str, list]:
        """A query of the rollup rows over a window (``t``: a row's start, then
        ``columns``) and its parameters: the minutes from the one holding ``since`` to the
        one holding ``until``. Hourly, the whole hours among them come from the hourly rows
        (from the hourly table's first full hour on), the rest from minute rows: the same
        figures, from a 60th of the rows. ``where`` (with ``params``) filters each table's
        rows."""
        minutes, hours = levels
        since, until = bounds
        start = since // minutes.seconds * minutes.seconds
        extra = f" AND {where}" if where else ""

        def rows_of(level: RollupLevel, low: float, high: float, last: bool) -> tuple[str, list]:
            """Rows from ``low`` to ``high`` (inclusive when ``last``): one upper bound, as
            SQLite may range over the index with the looser of two."""
            column = level.time_column
            sql = (
                f"SELECT {column} AS t, {level.seconds} AS span, "
                f"{self._select(level.table, columns)} FROM {level.table} "
                f"WHERE {column} >= %s AND {column} {'<=' if last else '<'} %s{extra}"
            )
            return sql, [low, high, *params]

        covered = self._first_full_span(hours) if hourly else None
        if covered is None:
            return rows_of(minutes, start, until, True)
        # Whole hours: from the first that starts at or after ``start`` (and is covered) to
        # the last whose last minute is at or before ``until``.
        first = max(-(-start // hours.seconds) * hours.seconds, covered)
        end = (until + minutes.seconds) // hours.seconds * hours.seconds
        if first >= end:
            return rows_of(minutes, start, until, True)
        parts = [rows_of(hours, first, end, False)]
        if start < first:
            parts.append(rows_of(minutes, start, first, False))
        if end <= until:
            parts.append(rows_of(minutes, end, until, True))
        return " UNION ALL ".join(sql for sql, _ in parts), [a for _, args in parts for a in args]

    def _merged(
        self,
        levels: tuple[RollupLevel, RollupLevel],
        bounds: Bounds,
        hourly: bool,
        groups: dict[Hashable, list[dict]],
        key_of: Callable[[dict], Hashable],
        scope: tuple,
        where: str = "",
        params: Sequence = (),
    ) -> dict[Hashable, LatencyHistogram]:
        """Each group's rows' histograms merged: ``groups`` holds rows of the source over
        ``bounds`` (``t``, ``span``, ``count``, ``sum_ms``) without their texts; ``key_of``
        gives a text row's group; ``scope`` names what else the rows were selected by. The
        merge of a group's settled hourly rows is kept, and found again while those rows'
        signature holds, however the window's ends move (their minutes are merged again).
        A histogram returned may be the one kept: read it, never change it."""
        now = time.time()
        live_from = now // SETTLED_BEFORE_S * SETTLED_BEFORE_S - SETTLED_BEFORE_S
        scope = (*scope, levels[1].table)

        def kept_part(row: dict) -> bool:
            return row["span"] == levels[1].seconds and row["t"] < live_from

        merged: dict[Hashable, LatencyHistogram] = {}
        signatures: dict[Hashable, tuple] = {}
        for key, rows in groups.items():
            settled = [r for r in rows if kept_part(r)]
            signatures[key] = signature = (
                len(settled),
                sum(r["count"] for r in settled),
                sum(r["sum_ms"] for r in settled),
                min((r["t"] for r in settled), default=None),
                max((r["t"] for r in settled), default=None),
            )
            kept = self._merges.get((scope, key))
            if kept is not None and kept[0] == signature:
                merged[key] = kept[1]
        source, args = self._rollup_source(
            levels, bounds, ("method", "route", "hist"), hourly=hourly, where=where,
            params=params,
        )  # fmt: skip
        if len(merged) == len(groups):  # the texts of the rest alone
            source = f"SELECT * FROM ({source}) AS r WHERE span <> %s OR t >= %s"
            args = [*args, levels[1].seconds, live_from]
        texts: dict[Hashable, tuple[list[str], list[str]]] = {}
        for row in self._read(source, args):
            key = key_of(row)
            if key in groups:
                pair = texts.setdefault(key, ([], []))
                pair[not kept_part(row)].append(row["hist"])
        if len(self._merges) > _KEPT_MERGES:
            self._merges.clear()
        for key in groups:
            settled_texts, other_texts = texts.get(key, ([], []))
            hist = merged.get(key)
            if hist is None:
                hist = LatencyHistogram.of_encoded(settled_texts)
                self._merges[(scope, key)] = (signatures[key], hist)
            if other_texts:  # the kept histogram stays as kept: a copy takes the others
                copy = LatencyHistogram()
                copy.merge(hist)
                copy.merge_encoded(other_texts)
                hist = copy
            merged[key] = hist
        return merged

    def _timeline(
        self,
        bounds: Bounds,
        open_start: bool,
        *,
        method: str | None,
        route: str | None,
        points: int,
        endpoints: bool = False,
    ) -> dict:
        """``StoreReader.timeline`` over closed bounds (``open_start``: from the first row)."""
        since, until = bounds
        if open_start:
            (first,) = self._read(f"SELECT MIN(minute) AS first FROM {ROUTE_MINUTES.table}")
            since = first["first"] if first["first"] is not None else time.time()
        span = window_span((since, until))
        hourly = span > (ROUTE_TIMELINE_HOURLY_ABOVE_S if route else TIMELINE_HOURLY_ABOVE_S)
        unit = ROUTE_HOURS.seconds if hourly else ROUTE_MINUTES.seconds
        # The window's first bucket starts up to a grain before ``since``: one bucket more.
        grain = max(math.ceil(span / max(points - 1, 1) / unit), 1) * unit
        filters, params = [], []
        for column, value in (("method", method), ("route", route)):
            if value is not None:
                filters.append(f"{column} = %s")
                params.append(value)
        if route is not None and endpoints:
            filters[-1], more = endpoints_filter(route, self.database.vendor)
            params[-1:] = more
        levels, bounds = (ROUTE_MINUTES, ROUTE_HOURS), (since // grain * grain, until)
        source, args = self._rollup_source(
            levels, bounds, ("count", "errors", "sum_ms", "max_ms"), hourly=hourly,
            where=" AND ".join(filters), params=params,
        )  # fmt: skip
        buckets: dict[Hashable, list[dict]] = defaultdict(list)
        for row in self._read(source, args):
            if row["count"]:
                buckets[int(row["t"] // grain * grain)].append(row)
        hists = self._merged(
            levels, bounds, hourly, buckets, lambda row: int(row["t"] // grain * grain),
            ("timeline", grain, method, route, endpoints), " AND ".join(filters), params,
        )  # fmt: skip
        rows = []
        for t, group in sorted(buckets.items()):
            count = sum(r["count"] for r in group)
            p50, p95, p99 = hists[t].percentiles_ms((50.0, 95.0, 99.0))
            rows.append({
                "t": t,
                "count": count,
                "errors": sum(r["errors"] for r in group),
                "mean_ms": sum(r["sum_ms"] for r in group) / count,
                "max_ms": max(r["max_ms"] for r in group),
                "p50_ms": p50,
                "p95_ms": p95,
                "p99_ms": p99,
            })  # fmt: skip
        return {"grain_s": grain, "rows": rows}
