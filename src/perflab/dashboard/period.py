"""The span of time a page shows: a recent range (5m … 7d) or a registered load-test run,
read from the query string the same way on every page and carried on in every link."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import Http404

from perflab.api.params import Choice, Text
from perflab.probe.store.reader import StoreReader, Window

RANGES = {"5m": 5, "15m": 15, "1h": 60, "6h": 360, "24h": 1440, "7d": 10080}  # minutes
DEFAULT_RANGE = "1h"
RANGE = Choice(choices=tuple(RANGES))
RUN_ID = Text(
    max_length=200,
    pattern=re.compile(r"[A-Za-z0-9_.:-]+"),
    expected="a run id (letters, digits, _.:-)",
)
PERIOD = {"range": RANGE, "run": RUN_ID}  # the query parameters of every page that has a period


@dataclass(frozen=True)
class Period:
    """What a page reads: ``window``; ``seconds`` long (for rates); how links carry it on."""

    range: str | None  # one of RANGES, or None for a run
    run: dict[str, Any] | None  # the run's row (``StoreReader.run``)
    window: Window
    seconds: float
    params: dict[str, str] = field(default_factory=dict)  # ``range=…`` or ``run=…``

    @property
    def label(self) -> str:
        return f"run {self.run['run_id']}" if self.run else f"last {self.range}"

    def query(self, **more: Any) -> str:
        """The query string of a link that keeps this period, with ``more`` (None left out)."""
        values = {**self.params, **{k: v for k, v in more.items() if v not in (None, "")}}
        return urlencode(values)


def period_of(
    store: StoreReader, range: str | None, run: str | None, now: float | None = None
) -> Period:
    """The period a page's ``range`` and ``run`` parameters ask for (a run wins); an unknown
    run is a 404."""
    now = time.time() if now is None else now
    if run:
        row = store.run(run)
        if row is None:
            raise Http404(f"no run {run!r} in this store")
        until = row["ended"] if row["ended"] is not None else now
        seconds = max(until - row["started"], 1.0)
        return Period(None, row, Window(row["started"], until), seconds, {"run": run})
    name = range or DEFAULT_RANGE
    minutes = RANGES[name]
    return Period(name, None, Window.last_minutes(minutes, now), minutes * 60.0, {"range": name})


def range_choices(period: Period, **keep: str | None) -> list[dict[str, Any]]:
    """The range picker's links: each range, keeping what else the page was asked for."""
    kept = {k: v for k, v in keep.items() if v not in (None, "")}
    return [
        {"name": name, "query": urlencode({"range": name, **kept}), "current": period.range == name}
        for name in RANGES
    ]
