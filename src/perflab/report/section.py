"""The extension point: a report section is one small class, one per module under ``sections/``.

Like django-debug-toolbar's ``Panel``: a section has an id, a title and a template, and turns
the run's ``ReportData`` into a template context (plus any charts, drawn by the page's script).
Adding a section is writing one class and registering it (``perflab.report.sections``): in
perflab, in ``BUILT_IN``; in another package, under the ``perflab.report_sections`` entry point.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from perflab.report.data import ReportData

MAX_POINTS = 2000  # per chart series: plenty for a 1400-pixel chart, and it keeps files small


@dataclass
class Line:
    label: str
    values: list[float | None]
    color: str = "#1f77b4"


@dataclass
class Chart:
    """One chart: a shared x axis and its lines; ``kind`` picks the axes (time or percentile)."""

    id: str
    title: str
    unit: str
    x: list[float]
    lines: list[Line] = field(default_factory=list)
    kind: str = "time"  # time | percentile

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Section:
    """Subclass, set ``id``/``title``/``template``, implement ``context`` (and ``charts``)."""

    id: str = ""
    title: str = ""
    template: str = ""  # under templates/sections/ of the package ``template_package``
    template_package: str = "perflab.report"  # another package's section names its own
    order: int = 1000  # place in the page: perflab's sections are at 100, 200 … 700

    def __init__(self, data: ReportData) -> None:
        self.data = data

    def context(self) -> dict[str, Any]:
        return {}

    def charts(self) -> list[Chart]:
        return []

    def warnings(self) -> list[str]:
        """Loud messages for the top of the report (e.g. DEBUG=True)."""
        return []


def downsample(
    x: list[float], columns: dict[str, list[float | None]], rates: frozenset[str] = frozenset()
) -> tuple[list[float], dict[str, list[float | None]]]:
    """At most MAX_POINTS points: per bucket the mean of ``rates`` columns, the max of others
    (a latency spike or a memory peak must survive downsampling; a rate must not be inflated)."""
    n = len(x)
    if n <= MAX_POINTS:
        return x, columns
    size = -(-n // MAX_POINTS)
    out_x = [x[i] for i in range(0, n, size)]
    out: dict[str, list[float | None]] = {}
    for name, values in columns.items():
        reduced: list[float | None] = []
        for i in range(0, n, size):
            bucket = [v for v in values[i : i + size] if v is not None]
            if not bucket:
                reduced.append(None)
            elif name in rates:
                reduced.append(sum(bucket) / len(bucket))
            else:
                reduced.append(max(bucket))
        out[name] = reduced
    return out_x, out


def rounded(values: list[float | None], digits: int = 2) -> list[float | None]:
    return [None if v is None else round(v, digits) for v in values]
