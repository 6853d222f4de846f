"""capacity.svg: p95 (log scale) against achieved throughput, one point per step.

A plain SVG with no script and no dependency, so it opens anywhere; the knee is circled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

from perflab.capacity.step import StepResult

WIDTH, HEIGHT, PAD = 640, 400, 56


def write_chart(steps: Sequence[StepResult], knee: StepResult | None, path: Path) -> Path | None:
    """None when fewer than two steps have a p95 (nothing to draw)."""
    points = sorted((s for s in steps if s.p95 and s.p95 > 0), key=lambda s: s.target_rate)
    if len(points) < 2:
        return None
    x_max = max(s.achieved_rate for s in points) * 1.1 or 1.0
    low = math.floor(math.log10(min(s.p95 for s in points)))
    high = max(math.ceil(math.log10(max(s.p95 for s in points))), low + 1)

    def x(value: float) -> float:
        return PAD + value / x_max * (WIDTH - 2 * PAD)

    def y(value: float) -> float:
        share = (math.log10(value) - low) / (high - low)
        return HEIGHT - PAD - share * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 12}" text-anchor="middle">achieved req/s</text>',
        f'<text x="14" y="{HEIGHT / 2}" transform="rotate(-90 14 {HEIGHT / 2})" '
        'text-anchor="middle">p95 ms (log)</text>',
    ]
    for decade in range(low, high + 1):
        value = 10.0**decade
        parts.append(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#ddd"/>')  # fmt: skip
        parts.append(f'<text x="{PAD - 4}" y="{y(value) + 4:.1f}" text-anchor="end">'
                     f"{value:g}</text>")  # fmt: skip
    for tick in range(5):
        value = x_max * tick / 4
        parts.append(f'<text x="{x(value):.1f}" y="{HEIGHT - PAD + 16}" '
                     f'text-anchor="middle">{value:.0f}</text>')  # fmt: skip
    line = " ".join(f"{x(s.achieved_rate):.1f},{y(s.p95):.1f}" for s in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#888"/>')
    for s in points:
        colour = "#2a7" if s.passed else "#d33"
        cx, cy = x(s.achieved_rate), y(s.p95)
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{colour}">'
                     f"<title>{escape(f'{s.target_rate:g}/s: p95 {s.p95:.1f} ms')}</title>"
                     "</circle>")  # fmt: skip
        parts.append(f'<text x="{cx + 6:.1f}" y="{cy - 6:.1f}">{s.target_rate:g}/s</text>')
    if knee is not None and knee.p95:
        parts.append(f'<circle cx="{x(knee.achieved_rate):.1f}" cy="{y(knee.p95):.1f}" r="9" '
                     'fill="none" stroke="#333"/>')  # fmt: skip
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")
    return path
