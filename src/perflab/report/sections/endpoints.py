"""Per endpoint, client and server side by side: where the time goes, sortable in the page."""

from __future__ import annotations

from typing import Any

from perflab.report.section import Section


class EndpointsSection(Section):
    id = "endpoints"
    order = 400
    title = "Endpoints"
    template = "endpoints.html.j2"

    def rows(self) -> list[dict[str, Any]]:
        data = self.data
        rows = []
        for e in data.results.endpoints:
            latency = e.latency
            server = data.server_for(e.method, e.name)
            key = (server["method"], server["route"]) if server else None
            rows.append({
                "method": e.method, "name": e.name, "requests": e.requests,
                "rps": e.rps, "error_rate": e.error_rate,
                "p50": latency.p50, "p95": latency.p95, "p99": latency.p99,
                "server_route": server["route"] if server else None,
                "server_p50": server["p50_ms"] if server else None,
                "server_p95": server["p95_ms"] if server else None,
                "server_p99": server["p99_ms"] if server else None,
                "queue_ms": data.queue_ms.get((e.method, e.name)),
                "queries": server["mean_queries"] if server else None,
                "db_share": server["db_share"] if server else None,
                "cache_hit_rate": data.cache_hit_rate.get(key) if key else None,
                # Apart: a route re-reading one row 527 times has one duplicate and no N+1.
                "n_plus_one": server["n_plus_one"] if server else None,
                "duplicates": server["duplicates"] if server else None,
                "unjoined": data.route_join.unmatched.get((e.method, e.name)),
            })  # fmt: skip
        return rows

    def context(self) -> dict[str, Any]:
        return {
            "rows": self.rows(),
            "totals": self.data.results.totals,
            "store_note": self.data.store_note,
            "joined": len(self.data.joined),
            "sampled": len(self.data.requests),
        }
