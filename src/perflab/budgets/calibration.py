"""The machine's speed, as a factor a time budget is multiplied by.

A budget written on a laptop (``p50_ms=20``) should hold on a CI runner twice as slow
without being loosened for everyone. So a small fixed, CPU-bound, pure-Python workload —
the dict, str and attribute churn of a Django request turning rows into JSON, not a sleep
— is timed once per process (best of several runs: interruptions only ever add time, so
the fastest run is the machine's speed) and compared with ``REFERENCE_MS``, its time on the
reference machine. ``factor = measured / reference``: a machine twice as slow gets twice
the budget. The factor is clamped to ``MIN_FACTOR`` to ``MAX_FACTOR`` so that one freak
calibration cannot make a budget meaningless. ``PERFLAB_SPEED_FACTOR`` pins the factor
(CI that wants the same one every run) and skips the measurement.

The calibration measures speed, not load: a busy neighbour slows a wall-clock measurement
in ways no factor predicts; that is what ``clock="cpu"`` is for.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass

from perflab.errors import PerflabError

# The reference workload's best time on the reference machine: the 2-core AMD EPYC VM that
# perflab's own suite runs on, idle, CPython 3.11 (best of CALIBRATION_RUNS, measured with
# reference_time_ms() on 2026-12-05: 4.9-5.2 ms in five fresh processes). A budget as
# written holds on this machine.
REFERENCE_MS = 5.0
CALIBRATION_RUNS = 7  # after one unmeasured run (caches, the allocator's arenas)
MIN_FACTOR = 0.25  # a budget tightens at most 4 times on a machine faster than the reference
MAX_FACTOR = 4.0  # a machine (or a calibration) that slow: the budget stops meaning anything
SPEED_FACTOR_ENV = "PERFLAB_SPEED_FACTOR"

_ROWS = 2000  # rows per workload run: ~5 ms on the reference machine


class _Row:
    """A model instance's shape: attributes in a ``__dict__``, read one by one."""

    def __init__(self, pk: int, title: str, author: dict, tags: list[str]) -> None:
        self.pk = pk
        self.title = title
        self.author = author
        self.tags = tags
        self.published = f"2026-{pk % 12 + 1:02d}-{pk % 28 + 1:02d}"


def reference_workload(rows: int = _ROWS) -> int:
    """Rows made, serialized to dicts and strings, grouped and joined, as a list view and
    its serializer do; returns a checksum so that nothing can be skipped."""
    authors = [{"id": n, "name": f"Author {n}", "email": f"a{n}@example.com"} for n in range(20)]
    objects = [
        _Row(pk, f"Book number {pk}", authors[pk % 20], [f"tag{pk % 7}", f"tag{pk % 5}"])
        for pk in range(rows)
    ]
    serialized = []
    for obj in objects:
        data = {
            "id": obj.pk,
            "title": obj.title.upper().replace("NUMBER", "#"),
            "author": {key: obj.author[key] for key in ("id", "name")},
            "tags": ",".join(sorted(obj.tags)),
            "published": obj.published,
            "url": f"/api/books/{obj.pk}/",
        }
        serialized.append(data)
    by_author: dict[str, list[dict]] = {}
    for data in serialized:
        by_author.setdefault(data["author"]["name"], []).append(data)
    text = "".join(
        f'{{"{name}": [{", ".join(str(d["id"]) for d in books)}]}}'
        for name, books in sorted(by_author.items())
    )
    return len(text) + sum(len(d["title"]) + len(d["tags"]) for d in serialized)


def reference_time_ms(runs: int = CALIBRATION_RUNS) -> float:
    """The workload's best wall time over ``runs`` runs, in ms."""
    reference_workload()
    best = math.inf
    for _ in range(runs):
        t0 = time.perf_counter()
        reference_workload()
        best = min(best, time.perf_counter() - t0)
    return best * 1000.0


@dataclass(frozen=True, slots=True)
class SpeedFactor:
    """What a budget is multiplied by, and where the number came from."""

    factor: float
    source: str  # "measured" or "PERFLAB_SPEED_FACTOR"
    measured_ms: float | None = None  # the calibration's best run (None when pinned)
    reference_ms: float = REFERENCE_MS
    clamped: bool = False  # measured/reference fell outside MIN_FACTOR to MAX_FACTOR

    def describe(self) -> str:
        """One line: the factor and how it was found."""
        if self.measured_ms is None:
            return f"speed factor {self.factor:.2f} (pinned by {SPEED_FACTOR_ENV})"
        ratio = self.measured_ms / self.reference_ms
        clamp = f", {ratio:.2f} clamped to {MIN_FACTOR:g}-{MAX_FACTOR:g}" if self.clamped else ""
        return (
            f"speed factor {self.factor:.2f} (calibration {self.measured_ms:.1f} ms / "
            f"reference {self.reference_ms:.1f} ms{clamp})"
        )


_measured: SpeedFactor | None = None
_measure_lock = threading.Lock()


def pinned_factor() -> SpeedFactor | None:
    """The factor ``PERFLAB_SPEED_FACTOR`` pins, or None when it is unset or empty."""
    raw = os.environ.get(SPEED_FACTOR_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise PerflabError(f"{SPEED_FACTOR_ENV}={raw!r}: expected a number above 0, e.g. 1.7")
    return SpeedFactor(value, SPEED_FACTOR_ENV)


def measured_factor() -> SpeedFactor | None:
    """The measured factor if this process has calibrated already, else None (never
    measures: for reports that must not slow a suite that used no time budget)."""
    return _measured


def speed_factor() -> SpeedFactor:
    """The factor for this process: pinned by ``PERFLAB_SPEED_FACTOR`` (read each call), else
    measured on first use and cached."""
    global _measured
    pinned = pinned_factor()
    if pinned is not None:
        return pinned
    with _measure_lock:
        if _measured is None:
            measured = reference_time_ms()
            ratio = measured / REFERENCE_MS
            factor = min(max(ratio, MIN_FACTOR), MAX_FACTOR)
            _measured = SpeedFactor(factor, "measured", measured, REFERENCE_MS, factor != ratio)
        return _measured
