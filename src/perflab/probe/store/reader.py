"""The store's reader side: what the API, ``perflab inspect``, the report and compare read.

Every read of many rows takes the same ``Window`` (since/until, unix seconds), so a run's
routes, requests, findings and SQL are all read for the run's time and a second run into the
same store never shows in the first one's figures. Summaries read the rollups (per minute, or
per hour for windows longer than a few hours: ``rollups``) and the findings table, never the
requests. Rows come back as dicts keyed by the columns the schema declares
(``perflab.probe.store.schema``). The timeline is in ``rollups``, the runs in ``runs``.
"""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from collections.abc import Hashable
from typing import NamedTuple

from perflab.probe.fingerprint import fingerprint_sql
from perflab.probe.store.batches import unpack
from perflab.probe.store.findings import FindingReads
from perflab.probe.store.rollups import endpoints_filter, summary_hourly
from perflab.probe.store.runs import RunReads
from perflab.probe.store.schema import (
    FINDING_FIELDS,
    REQUEST_COLUMNS,
    ROUTE_HOURS,
    ROUTE_MINUTES,
    SQL_HOURS,
    SQL_MINUTES,
    RouteMinute,
    path_order,
)

END_OF_TIME = 1e12  # unix seconds (year 33658): "no end" in a query's bounds


class Window(NamedTuple):
    """A span of time to read, in unix seconds; ``None`` leaves that side open. Requests and
    findings fall in it by when their request started; rollups (routes, SQL) by their minute,
    from the minute holding ``since`` to the one holding ``until``, whatever the grain read
    (windows longer than ``rollups.HOURLY_ABOVE_S`` read their whole hours from hourly
    rows)."""

    since: float | None = None
    until: float | None = None

    @classmethod
    def last_minutes(cls, minutes: float | None, now: float | None = None) -> Window:
        """The last ``minutes`` up to now (everything when None)."""
        if minutes is None:
            return cls()
        return cls(since=(now if now is not None else time.time()) - minutes * 60)

    def bounds(self) -> tuple[float, float]:
        """``(since, until)`` closed, for ``started BETWEEN``."""
        return (
            self.since if self.since is not None else 0.0,
            self.until if self.until is not None else END_OF_TIME,
        )


EVERYTHING = Window()

# A request's number of findings, counted where they are stored.
_FINDING_COUNT = "(SELECT COUNT(*) FROM perflab_finding f WHERE f.request_row = perflab_request.id)"


# Summed over a route's rollup rows; the maxima are taken, the histograms merged.
_ROUTE_SUMS = (
    "count",
    "errors",
    "sum_ms",
    "sum_queries",
    "sum_db_ms",
    "cache_hits",
    "cache_misses",
)
# How many of the newest requests a listing reads before it uses the indexes (``requests``).
_NEWEST_ROWS_FIRST = (5_000, 50_000)
# Above every character a path can hold: ``[p, p + this)`` holds the paths starting with p.
_LAST_CHARACTER = "\U0010ffff"


class StoreReader(FindingReads, RunReads):
    """Reads over a probe store; open read-only (``at_path(path, read_only=True)``) to be
    sure a reader never creates or changes anything."""

    def routes(self, window: Window = EVERYTHING) -> list[dict]:
        """Per route: count, error rate, p50/p95/p99, queries, DB-time share, cache hits
        and misses (``cache_hit_rate`` None when the route made no cache call); ``findings``
        (finding rows: findings per request, summed), and ``n_plus_one`` / ``duplicates``:
        how many distinct findings of each kind the route has (what there is to fix).
        Windows longer than 3 hours read their whole hours from hourly rollups and the
        partial hours at either end from minute rollups: the same figures (``Window``)."""
        levels, bounds = (ROUTE_MINUTES, ROUTE_HOURS), window.bounds()
        hourly = summary_hourly(bounds)
        source, params = self._rollup_source(
            levels, bounds, ("method", "route", *RouteMinute._fields[:-1]), hourly=hourly
        )
        merged: dict[tuple[str, str], dict] = {}
        rows_of: dict[Hashable, list[dict]] = defaultdict(list)
        for row in self._read(source, params):
            key = (row["method"], row["route"])
            rows_of[key].append(row)
            entry = merged.get(key)
            if entry is None:
                merged[key] = {**row}
                for name in ("cache_hits", "cache_misses"):  # NULL in a store made before
                    merged[key][name] = row[name] or 0
                continue
            for name in _ROUTE_SUMS:
                entry[name] += row[name] or 0
            entry["max_ms"] = max(entry["max_ms"], row["max_ms"])
            entry["max_queries"] = max(entry["max_queries"], row["max_queries"])
        hists = self._merged(
            levels, bounds, hourly, rows_of, lambda row: (row["method"], row["route"]), ("routes",)
        )
        found = self._finding_counts(bounds)
        summary = []
        for (method, route), e in merged.items():
            count = e["count"]
            if not count:
                continue
            p50, p95, p99 = hists[(method, route)].percentiles_ms((50.0, 95.0, 99.0))
            kinds = found.get((method, route), {})
            cache_calls = e["cache_hits"] + e["cache_misses"]
            summary.append({
                "method": method,
                "route": route,
                "count": count,
                "error_rate": e["errors"] / count,
                "p50_ms": p50,
                "p95_ms": p95,
                "p99_ms": p99,
                "mean_ms": e["sum_ms"] / count,
                "max_ms": e["max_ms"],
                "mean_queries": e["sum_queries"] / count,
                "max_queries": e["max_queries"],
                "db_share": e["sum_db_ms"] / e["sum_ms"] if e["sum_ms"] else 0.0,
                "findings": sum(rows for _, rows in kinds.values()),
                "n_plus_one": kinds.get("n_plus_one", (0, 0))[0],
                "duplicates": kinds.get("duplicate", (0, 0))[0],
                "cache_hits": e["cache_hits"],
                "cache_misses": e["cache_misses"],
                "cache_hit_rate": e["cache_hits"] / cache_calls if cache_calls else None,
            })  # fmt: skip
        return sorted(summary, key=lambda r: r["count"] * r["mean_ms"], reverse=True)

    def timeline(
        self,
        window: Window = EVERYTHING,
        *,
        method: str | None = None,
        route: str | None = None,
        points: int = 120,
        endpoints: bool = False,
    ) -> dict:
        """Requests over time: ``{"grain_s", "rows"}``, a row per bucket of ``grain_s`` (a
        whole number of minutes; of hours for windows longer than 6 hours, or 2 days for one
        route) that has requests, at most ``points`` of them; ``t`` is the bucket's start
        (unix s), then ``count``, ``errors``, ``mean_ms``, ``max_ms``, ``p50_ms``,
        ``p95_ms``, ``p99_ms``. One route's (``method`` and ``route``; with ``endpoints``, and
        its endpoints' ``route[…]`` merged: a catch-all's), or all routes merged when
        ``route`` is None. The first bucket is the one holding ``since``, whole."""
        return self._timeline(
            window.bounds(), window.since is None, method=method, route=route, points=points,
            endpoints=endpoints,
        )  # fmt: skip

    def requests(
        self,
        window: Window = EVERYTHING,
        *,
        route: str | None = None,
        method: str | None = None,
        status: int | None = None,
        min_ms: float | None = None,
        with_findings: bool = False,
        path_prefix: str | None = None,
        order: str = "recent",
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict]:
        """Requests' scalar columns and ``finding_count``, newest (or slowest) first;
        ``path_prefix``: those whose path starts with it (a range over the path index)."""
        where, params = ["started >= %s AND started <= %s"], list(window.bounds())
        for column, value in (("route", route), ("method", method), ("status", status)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if min_ms is not None:
            where.append("duration_ms >= %s")
            params.append(min_ms)
        if with_findings:
            where.append(
                "EXISTS (SELECT 1 FROM perflab_finding f WHERE f.request_row = perflab_request.id)"
            )
        if path_prefix:
            path = path_order(self.database)
            where.append(f"{path} >= %s AND {path} < %s")
            params += [path_prefix, path_prefix + _LAST_CHARACTER]
            # The path index, not the one on ``started`` (unary plus: not an indexed column).
            where[0] = "+started >= %s AND +started <= %s"
        order_by = "duration_ms DESC" if order == "slowest" else "id DESC"
        select = (
            f"SELECT id, {', '.join(REQUEST_COLUMNS)}, {_FINDING_COUNT} AS finding_count "
            f"FROM perflab_request WHERE {' AND '.join(where)}"
        )
        if order_by == "id DESC":
            # Newest first: what most listings want is among the newest rows, read backwards
            # by id in a moment, where an index over a long window (``started``, a broad path
            # prefix) would hand every match over to be sorted. The newest rows first, then
            # more of them, then the indexes when those hold too few.
            (newest,) = self._read("SELECT MAX(id) AS id FROM perflab_request")
            for rows in _NEWEST_ROWS_FIRST:
                if newest["id"] is None:
                    break
                recent = self._read(
                    f"{select} AND id > %s ORDER BY id DESC LIMIT %s OFFSET %s",
                    [*params, newest["id"] - rows, limit, offset],
                )
                if len(recent) == limit or rows >= newest["id"]:
                    return recent
        if order_by == "id DESC":
            return self._read(
                f"{select} ORDER BY id DESC LIMIT %s OFFSET %s", [*params, limit, offset]
            )
        # The slowest: their ids first, from the (route, started, duration_ms) index alone
        # when only those filter, then their rows (a sort over rows reads every row first).
        return self._read(
            f"{select} AND id IN (SELECT id FROM perflab_request WHERE {' AND '.join(where)} "
            f"ORDER BY duration_ms DESC, id DESC LIMIT %s OFFSET %s) "
            f"ORDER BY duration_ms DESC, id DESC",
            [*params, *params, limit, offset],
        )

    def query_counts(
        self,
        window: Window,
        *,
        method: str,
        route: str,
        newest: int = 20000,
        endpoints: bool = False,
    ) -> list[dict]:
        """How many of the route's newest ``newest`` requests in the window ran each number
        of queries: ``[{"queries", "requests"}]`` by ``queries``; with ``endpoints``, of the
        route's and its endpoints' (``route[…]``) together."""
        since, until = window.bounds()
        routes, params = (
            endpoints_filter(route, self.database.vendor) if endpoints else ("route = %s", [route])
        )
        return self._read(
            f"""SELECT query_count AS queries, COUNT(*) AS requests FROM (
                   SELECT query_count FROM perflab_request
                   WHERE {routes} AND started >= %s AND started <= %s AND method = %s
                   ORDER BY started DESC LIMIT %s) AS newest
               GROUP BY query_count ORDER BY query_count""",
            [*params, since, until, method, newest],
        )

    def request(self, row_id: int | None = None, request_id: str | None = None) -> dict | None:
        """One request in full, by row id or by its X-Request-ID: its columns, its detail
        document's lists (statements with their text), its findings."""
        column, value = ("id", row_id) if row_id is not None else ("request_id", request_id)
        rows = self._read(
            f"SELECT id, {', '.join(REQUEST_COLUMNS)}, detail FROM perflab_request "
            f"WHERE {column} = %s ORDER BY id DESC LIMIT 1",
            [value],
        )
        if not rows:
            return None
        row = rows[0]
        row.update(unpack(row.pop("detail")))
        queries = row.get("queries", ())
        texts = self._statement_texts({q["sql_hash"] for q in queries if "sql_hash" in q})
        for query in queries:
            if "sql_hash" in query:  # stored once, in perflab_statement
                query["sql"] = texts.get(query.pop("sql_hash"), "")
            if "fingerprint" not in query:  # not stored: derived from the statement
                query["fingerprint"] = fingerprint_sql(query["sql"])
        row["findings"] = self._read(
            f"SELECT {', '.join(FINDING_FIELDS)} FROM perflab_finding "
            f"WHERE request_row = %s ORDER BY id",
            [row["id"]],
        )
        row["finding_count"] = len(row["findings"])
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

    def _sql_source(self, window: Window, columns: tuple[str, ...], where: str = "", params=()):
        return self._rollup_source(
            (SQL_MINUTES, SQL_HOURS),
            window.bounds(),
            columns,
            hourly=summary_hourly(window.bounds()),
            where=where,
            params=params,
        )

    def sql(
        self,
        window: Window = EVERYTHING,
        *,
        route: str | None = None,
        fingerprint_hash: str | None = None,
        limit: int = 50,
    ):
        """SQL fingerprints by total time (over routes, or for one route; or the one row of
        ``fingerprint_hash``): count, total, mean and max ms, how many routes ran it, and
        ``example_request_id``, the X-Request-ID of the last request that ran it (None in
        rows of a store made before it was kept). Hourly rollups for long windows, as
        ``routes``."""
        given = {"route": route, "fingerprint_hash": fingerprint_hash}
        filters = {column: value for column, value in given.items() if value}
        source, params = self._sql_source(
            window,
            ("fingerprint_hash", "fingerprint", "method", "route", "count", "total_ms",
             "max_ms", "last_seen"),
            " AND ".join(f"{column} = %s" for column in filters),
            list(filters.values()),
        )  # fmt: skip
        rows = self._read(
            # Sums of BIGINT are NUMERIC on PostgreSQL (Decimal): cast back to integers.
            f"""SELECT fingerprint_hash, fingerprint, CAST(SUM(count) AS BIGINT) AS count,
                SUM(total_ms) AS total_ms, MAX(max_ms) AS max_ms, MAX(last_seen) AS last_seen,
                COUNT(DISTINCT method || ' ' || route) AS routes FROM ({source}) AS r
                GROUP BY fingerprint_hash, fingerprint ORDER BY total_ms DESC LIMIT %s""",
            [*params, limit],
        )
        for row in rows:
            row["mean_ms"] = row["total_ms"] / row["count"] if row["count"] else 0.0
        examples = self._examples(window, route, rows)
        for row in rows:
            row["example_request_id"] = examples.get(row["fingerprint_hash"])
        return rows

    def _examples(self, window: Window, route: str | None, rows: list[dict]) -> dict[str, str]:
        """fingerprint hash -> the example of its row seen last: only rows seen as late as
        the earliest of the groups' last sightings can hold one, few for busy statements."""
        seen = [r["last_seen"] for r in rows if r["last_seen"] is not None]
        if not seen:
            return {}
        hashes = sorted({r["fingerprint_hash"] for r in rows})
        where = f"fingerprint_hash IN ({', '.join(['%s'] * len(hashes))}) AND last_seen >= %s" + (
            " AND route = %s" if route else ""
        )
        source, params = self._sql_source(
            window,
            ("fingerprint_hash", "last_seen", "example_request_id"),
            where,
            [*hashes, min(seen), *([route] if route else [])],
        )
        latest: dict[str, tuple[float, str]] = {}
        for row in self._read(source, params):
            example, key = row["example_request_id"], row["fingerprint_hash"]
            if example is not None and (key not in latest or row["last_seen"] > latest[key][0]):
                latest[key] = (row["last_seen"], example)
        return {key: example for key, (_, example) in latest.items()}

    def sql_routes(self, window: Window, fingerprint_hash: str) -> list[dict]:
        """The routes that ran one statement shape, by total time: ``method``, ``route``,
        ``count``, ``total_ms``, ``max_ms``."""
        source, params = self._sql_source(
            window,
            ("method", "route", "count", "total_ms", "max_ms"),
            "fingerprint_hash = %s",
            [fingerprint_hash],
        )
        return self._read(
            f"""SELECT method, route, CAST(SUM(count) AS BIGINT) AS count,
                SUM(total_ms) AS total_ms, MAX(max_ms) AS max_ms FROM ({source}) AS r
                GROUP BY method, route ORDER BY total_ms DESC, method, route""",
            params,
        )

    def findings(
        self,
        window: Window = EVERYTHING,
        *,
        route: str | None = None,
        kind: str | None = None,
        limit: int = 50,
    ) -> list[dict]:
        """Findings grouped by what and where: how many requests, statements per request."""
        # One request can hold several rows of one group (a duplicate finding is per SQL and
        # parameters: two repeated rows of one statement shape are two rows), so a group's
        # "requests" counts requests, and "per request" sums a request's rows.
        source, params = self._finding_groups(window.bounds(), {"route": route, "kind": kind})
        return self._read(
            f"""SELECT kind, method, route, fingerprint_hash, NULLIF(place, '') AS location,
                MAX(callsite) AS callsite, MAX(template) AS template, MAX(origin) AS origin,
                CAST(SUM(requests) AS BIGINT) AS requests,
                CAST(SUM(count) AS DOUBLE PRECISION) / SUM(requests) AS per_request,
                MAX(max_count) AS max_per_request,
                SUM(total_ms) AS total_ms, MAX(example_sql) AS example_sql, MAX(hint) AS hint,
                MAX(fingerprint) AS fingerprint, MAX(example_request_id) AS example_request_id
                FROM ({source}) AS groups
                GROUP BY kind, method, route, fingerprint_hash, place
                ORDER BY total_ms DESC LIMIT %s""",
            [*params, limit],
        )

    def counters(self) -> dict[str, int]:
        """The store's lifetime counters (records dropped or lost): not per window."""
        return {
            r["name"]: r["value"] for r in self._read("SELECT name, value FROM perflab_counter")
        }

    def request_count(self, window: Window = EVERYTHING) -> int:
        (row,) = self._read(
            "SELECT COUNT(*) AS n FROM perflab_request WHERE started >= %s AND started <= %s",
            window.bounds(),
        )
        return row["n"]
