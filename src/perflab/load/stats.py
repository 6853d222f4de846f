"""Load statistics kept beside Locust's: exact percentiles that merge exactly across workers.

``record_many()`` takes the load generator's requests a batch at a time and only bumps
counters and sparse histograms. Everything else (summaries, per-second rows, wire deltas)
happens off that path. Memory stays bounded however long or wide the run: endpoint keys
are capped, distinct error messages are capped, and per-second histograms are discarded
once their second closes.

Not thread-safe: Locust runs requests as greenlets, and ``record_many()`` never yields.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from perflab.histogram import LatencyHistogram

OTHER = "(other)"
MAX_ERROR_MESSAGES = 20
MAX_ERROR_LENGTH = 300
# Beyond max_names, each method gets one (method, "(other)") key; this many at most.
MAX_OTHER_METHODS = 20
DELTA_VERSION = 1


@dataclass
class SecondSummary:
    """One closed second of the run, as shown live and written to results.json."""

    second: int
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    max: float
    gauges: dict[str, float] = field(default_factory=dict)


class _Endpoint:
    __slots__ = ("errors", "failures", "latency", "requests", "service")

    def __init__(self, separate_service: bool = True) -> None:
        self.requests = 0
        self.failures = 0
        self.latency = LatencyHistogram()
        # In the closed model service time *is* latency: one histogram serves both.
        self.service = LatencyHistogram() if separate_service else self.latency
        self.errors: dict[str, int] = {}

    @classmethod
    def decoded(cls, data: dict[str, Any]) -> _Endpoint:
        """An endpoint from a drained delta's entry (raises on malformed data)."""
        endpoint = cls()
        endpoint.requests = int(data["requests"])
        endpoint.failures = int(data["failures"])
        endpoint.latency = LatencyHistogram.decode(data["latency"])
        endpoint.service = LatencyHistogram.decode(data["service"])
        endpoint.errors = {str(message): int(count) for message, count in data["errors"].items()}
        return endpoint

    def add(self, other: _Endpoint) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.latency.merge(other.latency)
        if self.service is not self.latency:
            self.service.merge(other.service)
        for message, count in other.errors.items():
            self.add_error(message, count)

    def add_error(self, message: str, count: int) -> None:
        errors = self.errors
        if message not in errors and len(errors) - (OTHER in errors) >= MAX_ERROR_MESSAGES:
            message = OTHER
        errors[message] = errors.get(message, 0) + count

    def report(self, method: str, name: str) -> dict[str, Any]:
        errors = sorted(self.errors.items(), key=lambda item: (-item[1], item[0]))
        return {
            "method": method,
            "name": name,
            "requests": self.requests,
            "failures": self.failures,
            "error_rate": self.failures / self.requests if self.requests else 0.0,
            "latency": self.latency.summary(),
            "service": self.service.summary(),
            "errors": [{"message": message, "count": count} for message, count in errors],
        }


class _Second:
    __slots__ = ("failures", "latency", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.latency = LatencyHistogram()


class LoadStats:
    """Per-endpoint totals, per-second rows and gauges for one process or a merged run."""

    def __init__(
        self,
        max_names: int = 500,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        separate_service: bool = True,
    ) -> None:
        """``separate_service=False`` (closed model: service time equals latency) halves the
        per-request histogram work; ``service_ms`` passed to record() is then ignored."""
        if max_names < 1 or window_s < 0:
            raise ValueError("max_names must be >= 1 and window_s >= 0")
        self._max_names = max_names
        self._window_s = window_s
        self._clock = clock
        self._separate_service = separate_service
        self._endpoints: dict[tuple[str, str], _Endpoint] = {}
        self._seconds: dict[int, _Second] = {}
        self._gauges: dict[int, dict[str, dict[str, float]]] = {}  # second -> name -> source
        self._rows: list[SecondSummary] = []
        self._row_at: dict[int, SecondSummary] = {}
        self._closed_before = -math.inf  # every second below this has been closed
        self.late_merges = 0  # buckets that arrived for an already-closed second
        self.late_gauges = 0  # gauge values dropped because their second was already closed

    # -- the hot path ----------------------------------------------------------------------

    def record(
        self,
        method: str,
        name: str,
        latency_ms: float,
        service_ms: float | None = None,
        error: str | None = None,
        at: float | None = None,
    ) -> None:
        """Count one request: latency from its intended start, service time from the send
        (``None``: the same as the latency)."""
        service = latency_ms if service_ms is None else service_ms
        at = self._clock() if at is None else at
        self.record_many(((None, method, name, at, latency_ms, service, error),))

    def record_many(self, rows: Iterable[tuple]) -> None:
        """record() for a batch of request rows — ``(request_id, method, name, at, latency_ms,
        service_ms, error)``, the runner's row (perflab.load.samples.FIELDS) — grouped by
        endpoint and second first: each request is bucketed once, and each group reaches the
        endpoint's and the second's histograms as one merge."""
        groups: dict[tuple[str, str, int], tuple[list, list, list]] = {}
        for _, method, name, at, latency_ms, service_ms, error in rows:
            key = (method, name, int(at))
            group = groups.get(key)
            if group is None:
                group = groups[key] = ([], [], [])
            group[0].append(latency_ms)
            group[1].append(service_ms)
            if error is not None:
                group[2].append(error)
        for (method, name, second), (latencies, services, errors) in groups.items():
            endpoint = self._endpoints.get((method, name)) or self._endpoint(method, name)
            batch = LatencyHistogram()
            batch.record_many_ms(latencies)
            endpoint.requests += len(latencies)
            endpoint.latency.merge(batch)
            if endpoint.service is not endpoint.latency:
                endpoint.service.record_many_ms(services)
            bucket = self._seconds.get(second)
            if bucket is None:
                bucket = self._seconds[second] = _Second()
            bucket.requests += len(latencies)
            bucket.latency.merge(batch)
            if errors:
                bucket.failures += len(errors)
                endpoint.failures += len(errors)
                for error in errors:
                    endpoint.add_error(str(error)[:MAX_ERROR_LENGTH], 1)

    def _endpoint(self, method: str, name: str) -> _Endpoint:
        """Find or create an endpoint, folding new names into "(other)" beyond max_names."""
        endpoints = self._endpoints
        key = (method, name)
        if key not in endpoints and len(endpoints) >= self._max_names:
            key = (method, OTHER)
            if key not in endpoints and len(endpoints) >= self._max_names + MAX_OTHER_METHODS:
                key = (OTHER, OTHER)
        endpoint = endpoints.get(key)
        if endpoint is None:
            endpoint = endpoints[key] = _Endpoint(self._separate_service)
        return endpoint

    def set_gauge(
        self, name: str, value: float, at: float | None = None, source: str = "local"
    ) -> None:
        """Set a per-second gauge; the last value per source wins, sources are summed."""
        second = int(self._clock() if at is None else at)
        if second in self._row_at:
            self.late_gauges += 1
            return
        self._gauges.setdefault(second, {}).setdefault(name, {})[source] = float(value)

    # -- per-second rows -------------------------------------------------------------------

    def close_seconds(self, now: float | None = None) -> list[SecondSummary]:
        """Close every second that ended at least window_s ago; return the new rows."""
        now = self._clock() if now is None else now
        self._closed_before = max(self._closed_before, math.floor(now - self._window_s))
        return self._close()

    def close_all(self) -> list[SecondSummary]:
        """Close every open second (end of run); return the new rows."""
        open_seconds = self._seconds.keys() | self._gauges.keys()
        if open_seconds:
            self._closed_before = max(self._closed_before, max(open_seconds) + 1)
        return self._close()

    def _close(self) -> list[SecondSummary]:
        limit = self._closed_before
        due = sorted(s for s in self._seconds.keys() | self._gauges.keys() if s < limit)
        new_rows = []
        for second in due:
            bucket = self._seconds.pop(second, None)
            gauges = self._gauges.pop(second, None)
            row = self._row_at.get(second)
            if row is None:
                row = self._summarise(second, bucket, gauges)
                self._insert_row(row)
                new_rows.append(row)
                continue
            if bucket is not None:  # recorded for a second already closed: counts only
                row.requests += bucket.requests
                row.failures += bucket.failures
                self.late_merges += 1
        return new_rows

    @staticmethod
    def _summarise(
        second: int, bucket: _Second | None, gauges: dict[str, dict[str, float]] | None
    ) -> SecondSummary:
        bucket = bucket or _Second()
        latency = bucket.latency.summary()
        return SecondSummary(
            second=second,
            requests=bucket.requests,
            failures=bucket.failures,
            p50=latency["p50"],
            p95=latency["p95"],
            p99=latency["p99"],
            max=latency["max"],
            gauges={name: sum(by_source.values()) for name, by_source in (gauges or {}).items()},
        )

    def _insert_row(self, row: SecondSummary) -> None:
        if self._rows and row.second < self._rows[-1].second:
            bisect.insort(self._rows, row, key=lambda r: r.second)
        else:
            self._rows.append(row)
        self._row_at[row.second] = row

    @property
    def series(self) -> list[SecondSummary]:
        """Closed rows in time order."""
        return list(self._rows)

    def latest_second(self, now: float | None = None) -> SecondSummary | None:
        """The newest second before the current one that has data; closes nothing."""
        current = math.floor(self._clock() if now is None else now)
        open_second = max(
            (s for s in self._seconds.keys() | self._gauges.keys() if s < current), default=None
        )
        index = bisect.bisect_left(self._rows, current, key=lambda r: r.second)
        row = self._rows[index - 1] if index else None
        if open_second is None or (row is not None and row.second >= open_second):
            return row
        return self._summarise(
            open_second, self._seconds.get(open_second), self._gauges.get(open_second)
        )

    # -- distributed mode ------------------------------------------------------------------

    def drain(self) -> dict[str, Any]:
        """Everything recorded since the last drain, as msgpack-able plain data; then forget it.

        Closed rows stay: a worker never closes seconds, the master does.
        """
        delta = {
            "version": DELTA_VERSION,
            "endpoints": [
                {
                    "method": method,
                    "name": name,
                    "requests": endpoint.requests,
                    "failures": endpoint.failures,
                    "latency": endpoint.latency.encode(),
                    "service": endpoint.service.encode(),
                    "errors": dict(endpoint.errors),
                }
                for (method, name), endpoint in self._endpoints.items()
            ],
            "seconds": [
                {
                    "second": second,
                    "requests": bucket.requests,
                    "failures": bucket.failures,
                    "latency": bucket.latency.encode(),
                }
                for second, bucket in sorted(self._seconds.items())
            ],
            "gauges": [
                [second, name, sum(by_source.values())]
                for second, by_name in sorted(self._gauges.items())
                for name, by_source in by_name.items()
            ],
        }
        self._endpoints = {}
        self._seconds = {}
        self._gauges = {}
        return delta

    def merge(self, delta: dict[str, Any], source: str) -> None:
        """Add a worker's drained delta; all or nothing (a malformed delta raises ValueError)."""
        try:
            if delta["version"] != DELTA_VERSION:
                raise ValueError(f"unsupported stats delta version {delta['version']!r}")
            endpoints = [
                (str(e["method"]), str(e["name"]), _Endpoint.decoded(e)) for e in delta["endpoints"]
            ]
            seconds = [
                (
                    int(s["second"]),
                    int(s["requests"]),
                    int(s["failures"]),
                    LatencyHistogram.decode(s["latency"]),
                )
                for s in delta["seconds"]
            ]
            gauges = [
                (int(second), str(name), float(value)) for second, name, value in delta["gauges"]
            ]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed stats delta: {exc!r}") from exc

        for method, name, received in endpoints:
            endpoint = self._endpoints.get((method, name)) or self._endpoint(method, name)
            endpoint.add(received)
        for second, requests, failures, latency in seconds:
            row = self._row_at.get(second)
            if row is not None:  # already closed: counts only, percentiles stay as they were
                row.requests += requests
                row.failures += failures
                self.late_merges += 1
                continue
            bucket = self._seconds.get(second)
            if bucket is None:
                bucket = self._seconds[second] = _Second()
            bucket.requests += requests
            bucket.failures += failures
            bucket.latency.merge(latency)
        for second, name, value in gauges:
            self.set_gauge(name, value, at=second, source=source)

    # -- reports ---------------------------------------------------------------------------

    def endpoints(self) -> list[dict[str, Any]]:
        """One report per endpoint, sorted by name then method."""
        keys = sorted(self._endpoints, key=lambda key: (key[1], key[0]))
        return [self._endpoints[key].report(*key) for key in keys]

    def _total(self) -> _Endpoint:
        """All endpoints merged on demand (cheaper than a third histogram per request)."""
        total = _Endpoint(self._separate_service)
        for endpoint in self._endpoints.values():
            total.add(endpoint)
        return total

    def total(self) -> dict[str, Any]:
        """All endpoints together, in the same shape as one endpoint."""
        return self._total().report("", "Aggregated")

    @property
    def totals_requests(self) -> int:
        return sum(endpoint.requests for endpoint in self._endpoints.values())

    @property
    def totals_failures(self) -> int:
        return sum(endpoint.failures for endpoint in self._endpoints.values())

    def histograms(self) -> dict[str, str]:
        """Encoded latency histograms keyed "METHOD name", plus "Aggregated"."""
        keys = sorted(self._endpoints, key=lambda key: (key[1], key[0]))
        encoded = {
            f"{method} {name}": self._endpoints[method, name].latency.encode()
            for method, name in keys
        }
        encoded["Aggregated"] = self._total().latency.encode()
        return encoded

    def distribution(self) -> list[tuple[float, float]]:
        """(percentile, ms) points of the overall latency, for the percentile plot."""
        return self._total().latency.distribution()
