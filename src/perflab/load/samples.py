"""A bounded sample of individual requests, kept for the client/server join by request id.

Histograms say how slow an endpoint was; the report also wants to show *which* requests
were slow and what the server did for them. Keeping every request would grow without
bound, so the runner keeps a uniform reservoir (Algorithm R) plus the slowest few per
endpoint, both mergeable from Locust workers.
"""

from __future__ import annotations

import heapq
import random

FIELDS = ("request_id", "method", "name", "at", "latency_ms", "service_ms", "error")


class RequestSamples:
    def __init__(self, capacity: int = 10_000, slowest_per_name: int = 10, seed=None) -> None:
        self.capacity = capacity
        self.slowest_per_name = slowest_per_name
        self.seen = 0
        self.reservoir: list[tuple] = []
        self._slowest: dict[tuple[str, str], list[tuple]] = {}
        self._random = random.Random(seed)

    def add(self, row: tuple) -> None:
        """``row`` follows FIELDS; rows without a request id are not joinable and skipped."""
        if row[0] is None:
            return
        self._keep(row)
        self._rank(row)

    def _keep(self, row: tuple) -> None:
        self.seen += 1
        if len(self.reservoir) < self.capacity:
            self.reservoir.append(row)
        else:
            slot = self._random.randrange(self.seen)
            if slot < self.capacity:
                self.reservoir[slot] = row

    def _rank(self, row: tuple) -> None:
        heap = self._slowest.setdefault((row[1], row[2]), [])
        entry = (row[4], row[0], row)
        if len(heap) < self.slowest_per_name:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)

    def drain(self) -> dict:
        """Everything since the last drain, as plain lists (for a Locust worker report)."""
        delta = {
            "seen": self.seen,
            "reservoir": [list(row) for row in self.reservoir],
            "slowest": [list(entry[2]) for heap in self._slowest.values() for entry in heap],
        }
        self.seen = 0
        self.reservoir = []
        self._slowest = {}
        return delta

    def merge(self, delta: dict) -> None:
        """Fold a worker's drained rows in: the reservoir stays a (near) uniform sample."""
        rows = [tuple(row) for row in delta.get("reservoir", [])]
        for row in rows:
            self._keep(row)
        self.seen += max(0, int(delta.get("seen", 0)) - len(rows))  # seen but not sent
        for row in delta.get("slowest", []):
            self._rank(tuple(row))

    def rows(self) -> list[tuple]:
        """Reservoir plus slowest, without duplicates, in time order."""
        unique = {row[0]: row for row in self.reservoir}
        for heap in self._slowest.values():
            for entry in heap:
                unique[entry[2][0]] = entry[2]
        return sorted(unique.values(), key=lambda row: row[3])
