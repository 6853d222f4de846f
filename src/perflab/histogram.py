"""Latency histogram with HDR precision, exact min/max/mean, and a compact wire form.

One class for both sides: the load runner's per-endpoint statistics and the probe store's
per-minute route rollups (so it imports nothing of either). Why not Locust's numbers: Locust
rounds response times to ~2 significant digits before bucketing, so its p99 can exceed its
max. Why not a bare ``hdrh`` HdrHistogram: each one allocates a dense 23,552-counter array
(~190 KB), and the runner keeps two per endpoint for up to hundreds of endpoints; its
reported percentiles are a bucket's *highest equivalent value*, which can exceed the true
max.

So counts live in a sparse dict keyed by HdrHistogram's own counts-array index (1 µs .. 1 h,
3 significant digits), min/max/sum are tracked exactly next to them, and ``hdrh`` is used
for the standard base64 payload (``encode``/``decode``), so the histograms stay readable by
any HdrHistogram tool. The index arithmetic is tested against ``hdrh``'s own.

The probe store's rollups use a second text, ``encode_sparse``: the non-zero buckets as two
little-endian arrays (indices, counts) in base64. The store decodes hundreds of thousands of
rollup rows for a week's summary; the HdrHistogram payload costs a zlib inflate, a dense
23,552-counter array and a varint walk per row, the sparse text a base64 decode and
``array.frombytes`` (C). ``decode`` reads both; ``merge_encoded`` adds many texts at once.
"""

from __future__ import annotations

import base64
import binascii
import math
import sys
from array import array
from collections.abc import Iterable
from itertools import compress

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_FIGURES = 3

# HdrHistogram layout for (1, 1 h, 3 digits): 2048 sub-buckets per bucket, unit magnitude 0.
_SUB_BUCKET_HALF_COUNT_MAG = 10
_SUB_BUCKET_HALF_COUNT = 1 << _SUB_BUCKET_HALF_COUNT_MAG
_SUB_BUCKET_MASK = (_SUB_BUCKET_HALF_COUNT << 1) - 1
_SUB_BUCKET_BITS = _SUB_BUCKET_HALF_COUNT_MAG + 1
_MAX_MS = HIGHEST_US / 1000.0

SUMMARY_PERCENTILES: dict[str, float] = {
    "p50": 50.0,
    "p75": 75.0,
    "p90": 90.0,
    "p95": 95.0,
    "p99": 99.0,
    "p99_9": 99.9,
    "p99_99": 99.99,
}
_ENCODING_PREFIX = "h1"
_SPARSE_PREFIX = "s1"
# 23,552: the length of HdrHistogram's dense counts array for this range and precision.
COUNTS_LENGTH = (HIGHEST_US.bit_length() - _SUB_BUCKET_BITS + 2) << _SUB_BUCKET_HALF_COUNT_MAG
_SWAP_BYTES = sys.byteorder == "big"  # the sparse text is little-endian on every host


def counts_index(us: int) -> int:
    """HdrHistogram's counts-array index for a value in µs (same as ``hdrh``'s)."""
    bucket = (us | _SUB_BUCKET_MASK).bit_length() - _SUB_BUCKET_BITS
    return ((bucket + 1) << _SUB_BUCKET_HALF_COUNT_MAG) + (us >> bucket) - _SUB_BUCKET_HALF_COUNT


def _bucket_range(index: int) -> tuple[int, int]:
    """Lowest and highest equivalent value (µs) of a counts-array index."""
    bucket = (index >> _SUB_BUCKET_HALF_COUNT_MAG) - 1
    sub = (index & (_SUB_BUCKET_HALF_COUNT - 1)) + _SUB_BUCKET_HALF_COUNT
    if bucket < 0:
        sub -= _SUB_BUCKET_HALF_COUNT
        bucket = 0
    lowest = sub << bucket
    return lowest, lowest + (1 << bucket) - 1


def _ms_to_us(ms: float) -> int:
    """Round to whole µs and clamp into range; negative and NaN become 1 µs."""
    if ms < _MAX_MS:
        us = int(ms * 1000.0 + 0.5)
        return us if us > LOWEST_US else LOWEST_US
    if ms >= _MAX_MS:  # includes +inf
        return HIGHEST_US
    return LOWEST_US  # NaN


class LatencyHistogram:
    """Latencies in integer µs with 3-significant-digit buckets and exact min/max/mean."""

    __slots__ = ("_count", "_counts", "_max", "_min", "_percentiles", "_sum")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded."""
        self._counts: dict[int, int] = {}
        self._count = 0
        self._sum = 0
        self._min = HIGHEST_US + 1
        self._max = 0
        # Percentile walks done since the last change (summaries ask a kept histogram again).
        self._percentiles: dict[tuple[float, ...], list[int]] = {}

    def record_ms(self, ms: float, count: int = 1) -> None:
        """Record ``count`` occurrences of a latency in milliseconds (clamped into range)."""
        if count < 1:
            return
        if self._percentiles:
            self._percentiles = {}
        us = _ms_to_us(ms)
        index = counts_index(us)
        counts = self._counts
        counts[index] = counts.get(index, 0) + count
        self._count += count
        self._sum += us * count
        if us < self._min:
            self._min = us
        if us > self._max:
            self._max = us

    def record_many_ms(self, values: Iterable[float]) -> None:
        """Record a batch of latencies in ms: what record_ms does per value, in one loop (the
        runner folds requests in batches; this is most of the load generator's own work)."""
        if self._percentiles:
            self._percentiles = {}
        counts = self._counts
        low, high, total, n = self._min, self._max, 0, 0
        for ms in values:
            us = _ms_to_us(ms)
            index = counts_index(us)
            counts[index] = counts.get(index, 0) + 1
            total += us
            n += 1
            if us < low:
                low = us
            if us > high:
                high = us
        self._count += n
        self._sum += total
        self._min, self._max = low, high

    def merge(self, other: LatencyHistogram) -> None:
        """Add another histogram's recordings to this one (exactly)."""
        if not other._count:
            return
        if self._percentiles:
            self._percentiles = {}
        counts = self._counts
        for index, n in other._counts.items():
            counts[index] = counts.get(index, 0) + n
        self._count += other._count
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    @property
    def count(self) -> int:
        return self._count

    @property
    def min_ms(self) -> float:
        return self._min / 1000.0 if self._count else 0.0

    @property
    def max_ms(self) -> float:
        return self._max / 1000.0 if self._count else 0.0

    @property
    def mean_ms(self) -> float:
        return self._sum / self._count / 1000.0 if self._count else 0.0

    def percentile_ms(self, p: float) -> float:
        """Value at percentile ``p`` (0..100), HDR-style, clamped into [min, max]."""
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"percentile must be within 0..100, got {p!r}")
        return self._values_us([p])[0] / 1000.0

    def percentiles_ms(self, percentiles: Iterable[float]) -> list[float]:
        """Values at ascending percentiles (0..100), as ``percentile_ms`` gives each."""
        return [us / 1000.0 for us in self._values_us(percentiles)]

    def _values_us(self, percentiles: Iterable[float]) -> list[int]:
        """Values for ascending percentiles in one walk over the buckets.

        Like HdrHistogram: the target count is ``round(p% of count)`` (at least 1) and the
        value is the highest equivalent value of the bucket reaching it; unlike it, the
        result is clamped into the exact [min, max], so p99 can never exceed max.
        """
        percentiles = tuple(percentiles)
        known = self._percentiles.get(percentiles)
        if known is not None:
            return list(known)
        total = self._count
        if not total:
            return [0 for _ in percentiles]
        lo, hi = self._min, self._max
        counts = self._counts
        indices = iter(sorted(counts))  # ints sort several times faster than (index, n) pairs
        seen = index = 0
        out = []
        for p in percentiles:
            if p <= 0.0:
                out.append(lo)
                continue
            target = max(int(p * total / 100.0 + 0.5), 1)
            while seen < target:
                index = next(indices)
                seen += counts[index]
            out.append(min(max(_bucket_range(index)[1], lo), hi))
        self._percentiles[percentiles] = out
        return list(out)

    def summary(self) -> dict[str, float | int]:
        """count, min, mean, p50 .. p99_99, max (ms, 3 decimals); all zero when empty."""
        values = self._values_us(SUMMARY_PERCENTILES.values())
        result: dict[str, float | int] = {
            "count": self._count,
            "min": round(self.min_ms, 3),
            "mean": round(self.mean_ms, 3),
        }
        for key, us in zip(SUMMARY_PERCENTILES, values, strict=True):
            result[key] = round(us / 1000.0, 3)
        result["max"] = round(self.max_ms, 3)
        return result

    def distribution(self, ticks_per_half_distance: int = 4) -> list[tuple[float, float]]:
        """(percentile, ms) points for a percentile plot, spaced like HdrHistogram's output.

        Each halving of the distance to 100% gets ``ticks_per_half_distance`` points, up to
        p99.99, then (100, max). Empty histograms give an empty list.
        """
        if not self._count:
            return []
        levels = []
        level = 0.0
        while level < 99.99:
            levels.append(level)
            halvings = int(math.log2(100.0 / (100.0 - level)))  # floored, as in HdrHistogram
            level += 100.0 / (ticks_per_half_distance * 2 ** (halvings + 1))
        levels += [99.99, 100.0]
        values = self._values_us(levels)
        return [(round(p, 6), us / 1000.0) for p, us in zip(levels, values, strict=True)]

    def encode(self) -> str:
        """Compact text: exact min/max/sum plus the standard HdrHistogram base64 payload."""
        hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)
        if self._count:
            hdr_counts = hdr.counts
            for index, n in self._counts.items():
                hdr_counts[index] = n
            # hdrh's own hook for counts filled in from outside (its decoder uses it too).
            hdr.set_internal_tacking_values(
                counts_index(self._min), counts_index(self._max), self._count
            )
        payload = hdr.encode().decode("ascii")
        if not self._count:
            return f"{_ENCODING_PREFIX}:0:0:0:{payload}"
        return f"{_ENCODING_PREFIX}:{self._min}:{self._max}:{self._sum}:{payload}"

    def encode_sparse(self) -> str:
        """The store's rollup text: exact min/max/sum, then the non-zero buckets (indices as
        uint16, counts as uint32, little-endian) in base64; ``decode`` reads it back."""
        if not self._count:
            return f"{_SPARSE_PREFIX}:0:0:0:"
        indices = sorted(self._counts)
        packed = array("H", indices)
        counts = array("I", map(self._counts.__getitem__, indices))
        if _SWAP_BYTES:
            packed.byteswap()
            counts.byteswap()
        payload = base64.b64encode(packed.tobytes() + counts.tobytes()).decode("ascii")
        return f"{_SPARSE_PREFIX}:{self._min}:{self._max}:{self._sum}:{payload}"

    @classmethod
    def of_encoded(cls, texts: Iterable[str]) -> LatencyHistogram:
        """One histogram of many encoded ones (``merge_encoded`` into an empty one)."""
        hist = cls()
        hist.merge_encoded(texts)
        return hist

    def merge_encoded(self, texts: Iterable[str]) -> None:
        """Add many encoded histograms (either text) to this one: what a summary over many
        rollup rows needs, without a dict per row. Sparse texts are added into one dense
        list, with the checks that keep the sums right (the order and uniqueness of a
        text's buckets are ``decode``'s to check); ValueError for a broken text."""
        dense: list[int] | None = None
        count = total = 0
        low, high = HIGHEST_US + 1, 0
        first = last = 0
        for text in texts:
            if not text.startswith(_SPARSE_PREFIX):
                self.merge(self.decode(text))
                continue
            lo_us, hi_us, sum_us, indices, counts = _sparse_parts(text)
            if not indices:
                continue
            if dense is None:
                dense = [0] * COUNTS_LENGTH
                first, last = indices[0], indices[-1]
            try:
                for index, n in zip(indices, counts, strict=True):
                    dense[index] += n
            except IndexError:
                raise ValueError("histogram bucket out of range") from None
            count += sum(counts)
            total += sum_us
            if lo_us < low:
                low, first = lo_us, indices[0]
            if hi_us > high:
                high, last = hi_us, indices[-1]
        if dense is None:
            return
        window = dense[first : last + 1]
        if sum(window) != count:
            raise ValueError("histogram buckets outside its min/max")
        merged = LatencyHistogram()
        nonzero = compress(range(first, last + 1), window)
        merged._counts = dict(zip(nonzero, filter(None, window), strict=True))
        merged._count, merged._sum, merged._min, merged._max = count, total, low, high
        self.merge(merged)

    @classmethod
    def decode(cls, text: str) -> LatencyHistogram:
        """Inverse of :meth:`encode` and of :meth:`encode_sparse`; anything else raises
        ValueError."""
        if text.startswith(_SPARSE_PREFIX):
            lo_us, hi_us, sum_us, indices, counts = _sparse_parts(text)
            hist = cls()
            if indices:
                hist._counts = dict(zip(indices, counts, strict=True))
                if len(hist._counts) != len(indices):
                    raise ValueError("histogram buckets repeat")
                if min(indices) != indices[0] or max(indices) != indices[-1]:
                    raise ValueError("histogram min/max do not match its buckets")
                hist._count, hist._sum = sum(counts), sum_us
                hist._min, hist._max = lo_us, hi_us
            return hist
        try:
            prefix, lo, hi, total_us, payload = text.split(":")
            if prefix != _ENCODING_PREFIX:
                raise ValueError("unknown histogram encoding")
            lo_us, hi_us, sum_us = int(lo), int(hi), int(total_us)
            hdr = HdrHistogram.decode(payload.encode("ascii"))
        except ValueError:
            raise
        except Exception as exc:  # hdrh raises TypeError, zlib.error, its own exceptions
            raise ValueError(f"not an encoded LatencyHistogram: {exc}") from exc
        if (hdr.lowest_trackable_value, hdr.highest_trackable_value) != (LOWEST_US, HIGHEST_US):
            raise ValueError("histogram range does not match")
        if hdr.significant_figures != SIGNIFICANT_FIGURES:
            raise ValueError("histogram precision does not match")
        hist = cls()
        total = hdr.get_total_count()
        if not total:
            if (lo_us, hi_us, sum_us) != (0, 0, 0):
                raise ValueError("empty histogram with values")
            return hist
        if (
            not LOWEST_US <= lo_us <= hi_us <= HIGHEST_US
            or not lo_us * total <= sum_us <= hi_us * total
        ):
            raise ValueError("inconsistent histogram min/max/sum")
        first, last = counts_index(lo_us), counts_index(hi_us)
        window = hdr.counts[first : last + 1]
        # The non-zero buckets, picked in C (the store decodes a rollup row per route and
        # batch): both sides keep the window's non-zero entries, in order.
        nonzero = compress(range(first, last + 1), window)
        counts = dict(zip(nonzero, filter(None, window), strict=True))
        if sum(counts.values()) != total or not window[0] or not window[-1]:
            raise ValueError("histogram min/max do not match its buckets")
        hist._counts = counts
        hist._count = total
        hist._sum = sum_us
        hist._min = lo_us
        hist._max = hi_us
        return hist

    def __repr__(self) -> str:
        return f"<LatencyHistogram count={self._count} min={self.min_ms} max={self.max_ms}>"


def _sparse_parts(text: str) -> tuple[int, int, int, list[int], list[int]]:
    """min, max, sum (µs) and the bucket indices and counts of an ``encode_sparse`` text,
    checked against each other: ValueError when they disagree or the text is not one."""
    try:
        prefix, lo, hi, total_us, payload = text.split(":")
        lo_us, hi_us, sum_us = int(lo), int(hi), int(total_us)
        raw = base64.b64decode(payload, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"not an encoded LatencyHistogram: {exc}") from exc
    if prefix != _SPARSE_PREFIX or len(raw) % 6:
        raise ValueError("not an encoded LatencyHistogram")
    split = len(raw) // 3
    packed_indices, packed_counts = array("H"), array("I")
    packed_indices.frombytes(raw[:split])
    packed_counts.frombytes(raw[split:])
    if _SWAP_BYTES:
        packed_indices.byteswap()
        packed_counts.byteswap()
    indices, counts = packed_indices.tolist(), packed_counts.tolist()
    if not indices:
        if (lo_us, hi_us, sum_us) != (0, 0, 0):
            raise ValueError("empty histogram with values")
        return lo_us, hi_us, sum_us, indices, counts
    total = sum(counts)
    if (
        not LOWEST_US <= lo_us <= hi_us <= HIGHEST_US
        or not lo_us * total <= sum_us <= hi_us * total
        or 0 in counts
    ):
        raise ValueError("inconsistent histogram min/max/sum")
    if (indices[0], indices[-1]) != (counts_index(lo_us), counts_index(hi_us)):
        raise ValueError("histogram min/max do not match its buckets")
    return lo_us, hi_us, sum_us, indices, counts
