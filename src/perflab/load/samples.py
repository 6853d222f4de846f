"""A bounded sample of individual requests, kept for the client/server join by request id.

Histograms say how slow an endpoint was; the report also wants to show *which* requests
were slow and what the server did for them. Keeping every request would grow without
bound, so the runner keeps a uniform reservoir plus the slowest few per endpoint, both
mergeable from Locust workers (weighted reservoir sampling: a worker's rows keep their share).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterable

FIELDS = ("request_id", "method", "name", "at", "latency_ms", "service_ms", "error")


class RequestSamples:
    def __init__(
        self,
        capacity: int = 10_000,
        slowest_per_name: int = 10,
        seed=None,
        resolve: Callable[[object], str | None] | None = None,
    ) -> None:
        """``resolve`` turns a row's first field into its request id, called only for the rows
        that are kept: the runner hands in what the id is read from, not the id."""
        self.capacity = capacity
        self.slowest_per_name = slowest_per_name
        self.seen = 0
        self._heap: list[tuple[float, tuple]] = []
        self._skip = 0
        self._slowest: dict[tuple[str, str], list[tuple]] = {}
        self._random = random.Random(seed)
        self._resolve = resolve

    def add(self, row: tuple) -> None:
        """``row`` follows FIELDS; rows without a request id are not joinable and skipped."""
        if row[0] is None:
            return
        self.seen += 1
        if len(self._heap) < self.capacity:
            self._keep(self._resolved(row))
        elif self._skip > 0:
            self._skip -= 1  # exponential jumps: no random draw for rows that are not kept
        else:
            threshold = self._heap[0][0]
            key = self._random.uniform(threshold, 1.0)
            heapq.heapreplace(self._heap, (key, self._resolved(row)))
            self._skip = self._jump()
        self._rank(row)

    def add_many(self, rows: Iterable[tuple]) -> None:
        """add() for a batch: a row the reservoir passes over and that is not among its
        endpoint's slowest costs a counter step and one dict lookup."""
        slowest, per_name, capacity = self._slowest, self.slowest_per_name, self.capacity
        for row in rows:
            if self._skip > 0 and row[0] is not None and len(self._heap) >= capacity:
                self._skip -= 1
                self.seen += 1
                ranked = slowest.get((row[1], row[2]))
                if ranked is None or len(ranked) < per_name or row[4] >= ranked[0][0]:
                    self._rank(row)
            else:
                self.add(row)

    def _resolved(self, row: tuple) -> tuple:
        resolve = self._resolve
        return row if resolve is None else (resolve(row[0]), *row[1:])

    def _jump(self) -> int:
        """Rows to pass over before the next one enters (Efraimidis-Spirakis A-ExpJ, weight 1)."""
        threshold = self._heap[0][0]
        if threshold <= 0.0:
            return 0
        return int(math.log(self._random.random() or 1e-300) / math.log(threshold))

    def _keep(self, row: tuple, weight: float = 1.0) -> None:
        """Weighted reservoir sampling (Efraimidis-Spirakis): keep the largest u**(1/weight)."""
        key = self._random.random() ** (1.0 / weight)
        if len(self._heap) < self.capacity:
            heapq.heappush(self._heap, (key, row))
        elif key > self._heap[0][0]:
            heapq.heapreplace(self._heap, (key, row))

    def _rank(self, row: tuple) -> None:
        key = (row[1], row[2])
        heap = self._slowest.get(key)
        if heap is None:
            heap = self._slowest[key] = []
        elif len(heap) == self.slowest_per_name and row[4] < heap[0][0]:
            return  # not among the slowest: the usual case, decided without a tuple
        row = self._resolved(row)
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
        self._heap = []
        self._skip = 0
        self._slowest = {}
        return delta

    def merge(self, delta: dict) -> None:
        """Fold a worker's drained rows in: the reservoir stays a (near) uniform sample."""
        rows = [tuple(row) for row in delta.get("reservoir", [])]
        seen = int(delta.get("seen", 0))
        weight = max(1.0, seen / len(rows)) if rows else 1.0  # each sent row stands for this many
        for row in rows:
            self._keep(row, weight)
        self.seen += seen
        for row in delta.get("slowest", []):
            self._rank(tuple(row))

    @property
    def reservoir(self) -> list[tuple]:
        return [row for _, row in self._heap]

    def rows(self) -> list[tuple]:
        """Reservoir plus slowest, without duplicates, in time order (times rounded to µs)."""
        unique = {row[0]: row for row in self.reservoir}
        for heap in self._slowest.values():
            for entry in heap:
                unique[entry[2][0]] = entry[2]
        ordered = sorted(unique.values(), key=lambda row: row[3])
        return [(*row[:3], *(round(v, 3) for v in row[3:6]), *row[6:]) for row in ordered]
