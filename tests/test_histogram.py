import base64
import math
import random

import pytest
from hdrh.histogram import HdrHistogram

from perflab.histogram import (
    COUNTS_LENGTH,
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_FIGURES,
    LatencyHistogram,
    _bucket_range,
    counts_index,
)

SUMMARY_KEYS = ["count", "min", "mean", "p50", "p75", "p90", "p95", "p99", "p99_9", "p99_99", "max"]


def _hist(values_ms, count=1):
    hist = LatencyHistogram()
    for ms in values_ms:
        hist.record_ms(ms, count)
    return hist


def _reference():
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def test_bucket_arithmetic_matches_hdrh():
    ref = _reference()
    rng = random.Random(1)
    values = {1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, HIGHEST_US - 1, HIGHEST_US}
    values |= {1 << k for k in range(32)} | {(1 << k) - 1 for k in range(1, 32)}
    values |= {rng.randint(1, HIGHEST_US) for _ in range(2000)}
    for us in sorted(values):
        index = counts_index(us)
        assert index == ref.get_counts_array_index(us), us
        assert _bucket_range(index) == (
            ref.get_lowest_equivalent_value(us),
            ref.get_highest_equivalent_value(us),
        ), us


def test_uniform_percentiles_within_hdr_precision():
    hist = _hist(range(1, 10_001))
    assert hist.count == 10_000
    assert (hist.min_ms, hist.max_ms, hist.mean_ms) == (1.0, 10_000.0, 5000.5)
    for p, expected in [(50, 5000), (75, 7500), (90, 9000), (95, 9500), (99, 9900), (99.9, 9990)]:
        assert hist.percentile_ms(p) == pytest.approx(expected, rel=1e-3)
    assert hist.percentile_ms(0) == 1.0
    assert hist.percentile_ms(100) == 10_000.0


def test_percentiles_agree_with_hdrh_below_the_max():
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1) for _ in range(5000)]
    ref = _reference()
    for ms in values:
        ref.record_value(int(ms * 1000 + 0.5))
    hist = _hist(values)
    for p in (10, 50, 90, 99):
        assert hist.percentile_ms(p) == ref.get_value_at_percentile(p) / 1000


def test_p99_never_exceeds_the_exact_max_where_hdr_bucket_top_would():
    hist = _hist([1234.5] * 100)
    ref = _reference()
    ref.record_value(1_234_500, 100)
    # The case is real: hdrh reports the bucket's top, above every recorded value.
    assert ref.get_value_at_percentile(99) > 1_234_500
    assert ref.get_max_value() > 1_234_500
    assert hist.percentile_ms(99) == 1234.5
    summary = hist.summary()
    assert summary["p99"] == summary["p99_99"] == summary["max"] == 1234.5
    assert summary["min"] == 1234.5


def test_percentiles_stay_within_exact_min_and_max_and_are_monotonic():
    rng = random.Random(3)
    for _ in range(50):
        values = [rng.uniform(0.5, 5000) for _ in range(rng.randint(1, 40))]
        hist = _hist(values)
        points = [hist.percentile_ms(p) for p in (0, 1, 25, 50, 75, 90, 99, 99.9, 99.99, 100)]
        lo, hi = round(min(values), 3), round(max(values), 3)
        assert points == sorted(points)
        assert all(lo <= v <= hi for v in points)
        assert points[0] == hist.min_ms == lo
        assert points[-1] == hist.max_ms == hi


def test_out_of_range_values_are_clamped():
    hist = _hist([-5.0, float("nan"), 0.0, 0.0004])
    assert hist.count == 4
    assert hist.max_ms == hist.min_ms == 0.001
    big = _hist([1e12, float("inf")])
    assert big.min_ms == big.max_ms == 3_600_000.0
    assert big.percentile_ms(50) == 3_600_000.0


def test_count_argument_records_many_and_ignores_non_positive():
    hist = LatencyHistogram()
    hist.record_ms(10, count=3)
    hist.record_ms(20, count=0)
    hist.record_ms(30, count=-2)
    assert hist.count == 3
    assert hist.max_ms == 10.0


def test_percentile_outside_0_100_is_an_error():
    hist = _hist([1])
    with pytest.raises(ValueError):
        hist.percentile_ms(101)
    with pytest.raises(ValueError):
        hist.percentile_ms(-1)


def test_empty_histogram():
    hist = LatencyHistogram()
    assert hist.summary() == dict.fromkeys(SUMMARY_KEYS, 0) | {"count": 0}
    assert hist.percentile_ms(99) == 0.0
    assert hist.distribution() == []
    again = LatencyHistogram.decode(hist.encode())
    assert again.count == 0
    assert again.summary() == hist.summary()
    full = _hist([1, 2, 3])
    full.merge(LatencyHistogram())
    assert full.summary() == _hist([1, 2, 3]).summary()
    hist.merge(full)
    assert hist.summary() == full.summary()


def test_summary_keys_and_rounding():
    summary = _hist([1.23456, 2.5, 3.0]).summary()
    assert list(summary) == SUMMARY_KEYS
    assert summary["min"] == 1.235  # values are kept to the microsecond
    assert summary["mean"] == 2.245  # exact: (1235 + 2500 + 3000) / 3 µs


def test_merge_equals_recording_everything_in_one():
    rng = random.Random(5)
    values = [rng.expovariate(1 / 50) for _ in range(3000)]
    one = _hist(values)
    left, right = _hist(values[:1000]), _hist(values[1000:])
    left.merge(right)
    assert left.summary() == one.summary()
    assert left.distribution() == one.distribution()
    assert left.encode() == one.encode()


def test_encode_decode_round_trip():
    rng = random.Random(11)
    hist = _hist([rng.lognormvariate(2, 1.5) for _ in range(5000)])
    text = hist.encode()
    again = LatencyHistogram.decode(text)
    assert again.summary() == hist.summary()
    assert again.distribution() == hist.distribution()
    assert (again.min_ms, again.max_ms, again.mean_ms) == (hist.min_ms, hist.max_ms, hist.mean_ms)
    assert again.encode() == text
    assert len(text) < 8000


def test_encoded_payload_is_a_standard_hdr_histogram():
    hist = _hist(range(1, 1001))
    payload = hist.encode().rsplit(":", 1)[1]
    ref = HdrHistogram.decode(payload)
    assert ref.get_total_count() == 1000
    assert ref.get_value_at_percentile(50) / 1000 == hist.percentile_ms(50)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "h1:1:2:3:not*base64",
        "h1:1:2:3:SGVsbG8gd29ybGQ=",
        "h9:1000:1000:1000:" + _hist([1]).encode().rsplit(":", 1)[1],
        # min/max that do not match the payload's buckets
        "h1:5000:5000:5000:" + _hist([1]).encode().rsplit(":", 1)[1],
        # a histogram with a different range and precision
        "h1:1:1:1:" + HdrHistogram(1, 1000, 2).encode().decode(),
    ],
)
def test_decode_rejects_garbage(text):
    with pytest.raises(ValueError):
        LatencyHistogram.decode(text)


def test_distribution_is_hdr_style_and_increasing():
    hist = _hist(range(1, 10_001))
    points = hist.distribution()
    percentiles = [p for p, _ in points]
    values = [v for _, v in points]
    assert 24 <= len(points) <= 80
    assert percentiles[:6] == [0.0, 12.5, 25.0, 37.5, 50.0, 56.25]  # 4 ticks per half distance
    assert percentiles == sorted(set(percentiles))
    assert values == sorted(values)
    assert points[0] == (0.0, hist.min_ms)
    assert points[-2:] == [(99.99, hist.percentile_ms(99.99)), (100.0, hist.max_ms)]
    for p, v in points:
        assert v == hist.percentile_ms(p)


def test_reset_forgets_everything():
    hist = _hist([1, 2, 3])
    hist.reset()
    assert hist.count == 0
    assert hist.summary()["max"] == 0
    hist.record_ms(7)
    assert hist.min_ms == hist.max_ms == 7.0
    assert not math.isnan(hist.mean_ms)


def test_record_many_equals_record_one_by_one():
    rng = random.Random(7)
    values = [rng.lognormvariate(2, 2) for _ in range(5000)] + [0.0, -1.0, 1e12, math.nan]
    batched = LatencyHistogram()
    batched.record_many_ms(values[:2500])
    batched.record_many_ms(values[2500:])
    assert batched.summary() == _hist(values).summary()
    assert batched.encode() == _hist(values).encode()


def _sparse_text(lo: int, hi: int, total: int, indices: list[int], counts: list[int]) -> str:
    """A sparse text made by hand (little-endian uint16 indices, uint32 counts)."""
    raw = b"".join(i.to_bytes(2, "little") for i in indices)
    raw += b"".join(n.to_bytes(4, "little") for n in counts)
    return f"s1:{lo}:{hi}:{total}:{base64.b64encode(raw).decode()}"


def test_sparse_text_round_trips_with_the_hdr_texts_figures():
    rng = random.Random(11)
    for n in (1, 3, 200, 5000):
        hist = _hist([rng.lognormvariate(3, 1.2) for _ in range(n)])
        hist.record_ms(HIGHEST_US / 1000.0)  # the top bucket too
        sparse, hdr = hist.encode_sparse(), hist.encode()
        assert sparse.startswith("s1:") and hdr.startswith("h1:")
        from_sparse, from_hdr = LatencyHistogram.decode(sparse), LatencyHistogram.decode(hdr)
        assert from_sparse.summary() == from_hdr.summary() == hist.summary()
        assert from_sparse.distribution() == from_hdr.distribution()
        assert from_sparse.encode() == hdr and from_hdr.encode_sparse() == sparse


def test_sparse_text_of_an_empty_histogram():
    text = LatencyHistogram().encode_sparse()
    assert text == "s1:0:0:0:"
    assert LatencyHistogram.decode(text).summary() == LatencyHistogram().summary()
    assert LatencyHistogram.of_encoded([text, text]).count == 0


def test_sparse_text_holds_hdr_bucket_indices_little_endian():
    hist = _hist([1.0, 1.0, 2.5])
    lo, hi = counts_index(1000), counts_index(2500)
    assert hist.encode_sparse() == _sparse_text(1000, 2500, 4500, [lo, hi], [2, 1])


def test_merge_encoded_equals_merging_decoded_histograms_of_both_texts():
    rng = random.Random(5)
    parts = [
        _hist([rng.lognormvariate(2, 1) for _ in range(rng.randint(0, 300))]) for _ in range(40)
    ]
    texts = [p.encode_sparse() if i % 3 else p.encode() for i, p in enumerate(parts)]
    merged = LatencyHistogram()
    for part in parts:
        merged.merge(part)
    assert LatencyHistogram.of_encoded(texts).summary() == merged.summary()
    assert LatencyHistogram.of_encoded(texts).encode_sparse() == merged.encode_sparse()
    assert LatencyHistogram.of_encoded([]).count == 0


def test_counts_length_is_hdrhs():
    assert _reference().counts_len == COUNTS_LENGTH
    assert counts_index(HIGHEST_US) < COUNTS_LENGTH


@pytest.mark.parametrize(
    "text",
    [
        "s1:1000:1000:1000:",  # values without buckets
        "s1:1000:1000:1000:not base64!",
        "s1:1000:1000:1000:" + base64.b64encode(b"12345").decode(),  # not 6 bytes a bucket
        _sparse_text(1000, 1000, 2000, [counts_index(1000)], [1]),  # sum above count times max
        _sparse_text(1000, 2000, 3000, [counts_index(1000)], [2]),  # max not in the last bucket
        _sparse_text(1000, 1000, 1000, [counts_index(1000)], [0]),  # an empty bucket
        _sparse_text(
            1000,
            2000,
            3000,
            [counts_index(1000), counts_index(1000), counts_index(2000)],
            [1, 0, 1],
        ),
        _sparse_text(
            1000, 2000, 3000, [counts_index(1000), 60000, counts_index(2000)], [1, 1, 1]
        ),  # an index beyond the counts array
        _sparse_text(
            1000,
            2000,
            6000,
            [counts_index(1000), counts_index(3000), counts_index(2000)],
            [1, 1, 1],
        ),  # a bucket above the max
        "s1:x:1:1:",
    ],
)
def test_decoding_rejects_broken_sparse_texts(text):
    with pytest.raises(ValueError):
        LatencyHistogram.decode(text)
    with pytest.raises(ValueError):
        LatencyHistogram.of_encoded([_hist([1.0]).encode_sparse(), text])


def test_a_bucket_given_twice_is_refused_by_decode_and_added_by_merge():
    text = _sparse_text(1000, 2000, 5500, [counts_index(1000), counts_index(1500),
                        counts_index(1000), counts_index(2000)], [1, 1, 1, 1])  # fmt: skip
    with pytest.raises(ValueError):
        LatencyHistogram.decode(text)
    assert LatencyHistogram.of_encoded([text]).summary() == _hist([1, 1, 1.5, 2]).summary()


def test_percentiles_asked_again_follow_every_change():
    values = [1.0, 2.0, 3.0]
    hist = _hist(values)
    ps = (50.0, 90.0, 99.0)
    assert hist.percentiles_ms(ps) == hist.percentiles_ms(ps) == _hist(values).percentiles_ms(ps)
    for change, added in [
        (lambda h: h.record_ms(100.0, 5), [100.0] * 5),
        (lambda h: h.record_many_ms([0.5] * 20), [0.5] * 20),
        (lambda h: h.merge(_hist([7.0] * 100)), [7.0] * 100),
        (lambda h: h.merge_encoded([_hist([9.0] * 400).encode_sparse()]), [9.0] * 400),
    ]:
        before = hist.percentiles_ms(ps)
        change(hist)
        values += added
        assert hist.percentiles_ms(ps) == _hist(values).percentiles_ms(ps) != before
    hist.reset()
    assert hist.percentiles_ms(ps) == [0.0, 0.0, 0.0]
