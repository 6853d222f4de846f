"""The data of the dashboard's charts, as the ``data-series`` attribute of a
``<div class="chart">`` holds it: JSON that ``dashboard.js`` hands to uPlot (vendored)."""

from __future__ import annotations

import json
from typing import Any


def _chart(kind: str, unit: str, x: list, lines: list[tuple[str, list]], step: float = 1) -> str:
    return json.dumps(
        {
            "kind": kind,  # "time": x is unix seconds; "bars": x is a count
            "unit": unit,
            "step": step,  # x's grain: the axis is padded by one step on each side
            "x": x,
            "series": [{"label": label, "values": values} for label, values in lines],
        },
        separators=(",", ":"),
        default=float,  # a PostgreSQL store's sums may come back as Decimal
    )


def latency_chart(timeline: dict[str, Any]) -> str:
    """p50/p95/p99 per bucket of ``StoreReader.timeline``."""
    rows = timeline["rows"]
    return _chart(
        "time",
        "ms",
        [r["t"] for r in rows],
        [(f"p{p}", [_rounded(r[f"p{p}_ms"]) for r in rows]) for p in (50, 95, 99)],
        timeline["grain_s"],
    )


def throughput_chart(timeline: dict[str, Any]) -> str:
    """Requests and errors per second per bucket of ``StoreReader.timeline``."""
    rows, grain = timeline["rows"], max(timeline["grain_s"], 1)
    return _chart(
        "time",
        "req/s",
        [r["t"] for r in rows],
        [
            ("requests/s", [round(r["count"] / grain, 6) for r in rows]),
            ("errors/s", [round(r["errors"] / grain, 6) for r in rows]),
        ],
        grain,
    )


def query_count_chart(counts: list[dict[str, int]]) -> str:
    """How many requests issued each number of statements (``StoreReader.query_counts``)."""
    counts = sorted(counts, key=lambda r: r["queries"])
    return _chart(
        "bars",
        "requests",
        [r["queries"] for r in counts],
        [("requests", [r["requests"] for r in counts])],
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
