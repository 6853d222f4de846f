"""Charts over time: load, throughput, latency, and the server's CPU, memory and DB connections."""

from __future__ import annotations

from typing import Any

from perflab.report.section import Chart, Line, Section, downsample, rounded

BLUE, ORANGE, RED, GREEN, PURPLE, GREY = (
    "#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd", "#7f7f7f",
)  # fmt: skip
# (chart id, title, unit, source, [(column, label, colour)])
CHARTS = [
    ("load", "Users and arrival rate", "", "series",
     [("users", "users", BLUE), ("arrival_rate", "arrival rate /s", ORANGE),
      ("in_flight", "in flight", GREY)]),
    ("throughput", "Requests and errors per second", "/s", "series",
     [("requests", "req/s", BLUE), ("failures", "errors/s", RED)]),
    ("latency", "Latency percentiles (per second)", "ms", "series",
     [("p50", "p50", GREEN), ("p95", "p95", ORANGE), ("p99", "p99", RED)]),
    ("cpu", "CPU", "%", "monitor",
     [("server_cpu_percent", "server CPU % (of one core)", BLUE),
      ("system_cpu_percent", "system CPU %", GREY)]),
    ("rss", "Server memory (RSS)", "MB", "monitor", [("server_rss_mb", "server RSS MB", PURPLE)]),
    ("db", "Database connections", "", "monitor",
     [("db_connections", "connections", BLUE), ("db_active", "active", ORANGE)]),
]  # fmt: skip
# Averaged when downsampled; every other column keeps the bucket's maximum.
RATES = frozenset({"requests", "failures", "users", "arrival_rate", "in_flight",
                   "system_cpu_percent", "server_cpu_percent", "db_active"})  # fmt: skip


class TimelineSection(Section):
    id = "timeline"
    order = 200
    title = "Over time"
    template = "timeline.html.j2"

    def _rows(self, source: str) -> tuple[list[float], list[dict[str, Any]]]:
        if source == "series":
            rows = self.data.results.series
            return [r["second"] for r in rows], rows
        rows = [r for r in self.data.monitor if r.get("t") is not None]
        return [r["t"] for r in rows], rows

    def charts(self) -> list[Chart]:
        if not hasattr(self, "_charts"):
            self._charts = self._build()
        return self._charts

    def _build(self) -> list[Chart]:
        charts = []
        for chart_id, title, unit, source, columns in CHARTS:
            x, rows = self._rows(source)
            wanted = {
                name: [r.get(name) for r in rows]
                for name, _, _ in columns
                if any(r.get(name) is not None for r in rows)
            }
            if not wanted:
                continue
            x, reduced = downsample(x, wanted, RATES)
            lines = [
                Line(label, rounded(reduced[name]), colour)
                for name, label, colour in columns
                if name in reduced
            ]
            charts.append(Chart(f"chart-{chart_id}", title, unit, [round(t) for t in x], lines))
        return charts

    def context(self) -> dict[str, Any]:
        drawn = {c.id for c in self.charts()}
        missing = [title for chart_id, title, *_ in CHARTS if f"chart-{chart_id}" not in drawn]
        return {"missing": missing, "has_monitor": bool(self.data.monitor)}
