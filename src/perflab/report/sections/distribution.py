"""The latency percentile distribution, HDR style: percentiles on a log axis out to p99.99."""

from __future__ import annotations

from typing import Any

from perflab.report.section import Chart, Line, Section


def percentile_x(percent: float) -> float:
    """HDR's x axis: 1 / (1 - p), so 90 %, 99 %, 99.9 % … are evenly spaced on a log scale."""
    return 1 / (1 - percent / 100)


class DistributionSection(Section):
    id = "distribution"
    order = 300
    title = "Latency distribution"
    template = "distribution.html.j2"

    def _points(self) -> list[list[float]]:
        return [p for p in self.data.results.distribution if p[0] < 100]

    def charts(self) -> list[Chart]:
        points = self._points()
        if not points:
            return []
        x = [round(percentile_x(p), 4) for p, _ in points]
        values = [round(ms, 3) for _, ms in points]
        return [Chart("chart-distribution", "Latency by percentile (all requests)", "ms", x,
                      [Line("latency ms", values, "#d62728")], kind="percentile")]  # fmt: skip

    def context(self) -> dict[str, Any]:
        latency = self.data.results.totals.latency
        keys = ("p50", "p90", "p95", "p99", "p99_9", "p99_99", "max")
        return {"marks": [(k.replace("_", "."), getattr(latency, k)) for k in keys],
                "has_points": bool(self._points())}  # fmt: skip
