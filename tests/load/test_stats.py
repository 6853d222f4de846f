import random

import msgpack
import pytest

from perflab.histogram import LatencyHistogram
from perflab.load.stats import OTHER, LoadStats, SecondSummary

T0 = 1_700_000_000


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _stream(n=4000, seed=42):
    """A deterministic mix of endpoints, latencies, errors and seconds."""
    rng = random.Random(seed)
    names = [("GET", "/"), ("GET", "/items/"), ("POST", "/items/"), ("GET", "/slow/")]
    messages = ["HTTPError 500", "HTTPError 503", "ConnectionResetError", "Timeout"]
    events = []
    for i in range(n):
        method, name = rng.choice(names)
        latency = rng.lognormvariate(3, 1) * (20 if name == "/slow/" else 1)
        service = latency * rng.uniform(0.3, 1.0)
        error = rng.choice(messages) if rng.random() < 0.05 else None
        events.append((method, name, latency, service, error, T0 + i * 5 / n))
    return events


def _feed(stats, events):
    for method, name, latency, service, error, at in events:
        stats.record(method, name, latency, service_ms=service, error=error, at=at)


def test_record_reports_endpoint_and_total():
    stats = LoadStats()
    stats.record("GET", "/a", 10.0, at=T0)
    stats.record("GET", "/a", 30.0, service_ms=5.0, error="HTTPError 500", at=T0)
    stats.record("POST", "/a", 20.0, at=T0)
    (get_a, post_a) = stats.endpoints()
    assert (get_a["method"], get_a["name"]) == ("GET", "/a")
    assert (get_a["requests"], get_a["failures"], get_a["error_rate"]) == (2, 1, 0.5)
    assert (get_a["latency"]["min"], get_a["latency"]["max"]) == (10.0, 30.0)
    assert (get_a["service"]["min"], get_a["service"]["max"]) == (5.0, 10.0)  # None = latency
    assert get_a["errors"] == [{"message": "HTTPError 500", "count": 1}]
    assert (post_a["requests"], post_a["error_rate"]) == (1, 0.0)
    total = stats.total()
    assert (total["method"], total["name"]) == ("", "Aggregated")
    assert (total["requests"], total["failures"]) == (3, 1)
    assert total["latency"]["max"] == 30.0
    assert (stats.totals_requests, stats.totals_failures) == (3, 1)


def test_endpoints_sorted_by_name_then_method():
    stats = LoadStats()
    for method, name in [("POST", "/b"), ("GET", "/b"), ("GET", "/a"), ("DELETE", "/b")]:
        stats.record(method, name, 1.0, at=T0)
    keys = [(e["name"], e["method"]) for e in stats.endpoints()]
    assert keys == [("/a", "GET"), ("/b", "DELETE"), ("/b", "GET"), ("/b", "POST")]


def test_error_messages_are_capped_truncated_and_sorted():
    stats = LoadStats()
    for i in range(30):
        stats.record("GET", "/", 1.0, error=f"error {i}", at=T0)
    for _ in range(3):
        stats.record("GET", "/", 1.0, error="error 5", at=T0)
    stats.record("GET", "/long", 1.0, error="x" * 1000, at=T0)
    root, long = stats.endpoints()
    messages = {e["message"]: e["count"] for e in root["errors"]}
    assert len(messages) == 21
    assert messages[OTHER] == 10
    assert root["errors"][0] == {"message": OTHER, "count": 10}
    assert root["errors"][1] == {"message": "error 5", "count": 4}
    assert sum(messages.values()) == root["failures"] == 33
    assert long["errors"] == [{"message": "x" * 300, "count": 1}]


def test_endpoint_names_are_bounded():
    stats = LoadStats(max_names=5)
    for i in range(1000):
        stats.record("GET", f"/items/{i}", 1.0, at=T0)
    stats.record("POST", "/new", 1.0, at=T0)
    stats.record("GET", "/items/2", 1.0, at=T0)  # known names keep their own row
    rows = {(e["method"], e["name"]): e["requests"] for e in stats.endpoints()}
    assert len(rows) == 7
    assert rows[("GET", OTHER)] == 995
    assert rows[("POST", OTHER)] == 1
    assert rows[("GET", "/items/2")] == 2
    assert stats.totals_requests == 1002


def test_split_drain_merge_equals_one_process():
    events = _stream()
    whole = LoadStats()
    _feed(whole, events)

    workers = [LoadStats(), LoadStats()]
    master = LoadStats()
    for i, event in enumerate(events):
        _feed(workers[i % 2], [event])
        if i % 700 == 0:  # workers drain several times, at different moments
            master.merge(workers[i % 2].drain(), source=f"w{i % 2}")
    for n, worker in enumerate(workers):
        master.merge(worker.drain(), source=f"w{n}")

    assert master.endpoints() == whole.endpoints()
    assert master.total() == whole.total()
    assert master.histograms() == whole.histograms()
    assert master.distribution() == whole.distribution()
    assert master.total()["failures"] > 0
    assert master.close_all() == whole.close_all()
    assert len(master.series) == 5


def test_merging_keeps_names_bounded():
    master = LoadStats(max_names=10)
    for w in range(3):
        worker = LoadStats()
        for i in range(200):
            worker.record("GET", f"/u/{w}/{i}", 1.0, at=T0)
        master.merge(worker.drain(), source=f"w{w}")
    rows = {(e["method"], e["name"]): e["requests"] for e in master.endpoints()}
    assert len(rows) == 11
    assert rows[("GET", OTHER)] == 590
    assert master.totals_requests == 600


def test_drain_is_msgpack_able_and_survives_the_trip():
    stats = LoadStats()
    _feed(stats, _stream(500))
    stats.set_gauge("users", 10, at=T0)
    delta = stats.drain()
    unpacked = msgpack.unpackb(msgpack.packb(delta))
    assert unpacked == delta
    master, direct = LoadStats(), LoadStats()
    master.merge(unpacked, source="w1")
    direct.merge(delta, source="w1")
    assert master.endpoints() == direct.endpoints()
    assert master.total()["requests"] == 500


def test_drain_clears_what_it_sent():
    stats = LoadStats()
    stats.record("GET", "/", 5.0, error="boom", at=T0)
    stats.set_gauge("users", 3, at=T0)
    first = stats.drain()
    assert first["endpoints"][0]["requests"] == 1
    assert stats.totals_requests == 0
    assert stats.endpoints() == []
    second = stats.drain()
    assert (second["endpoints"], second["seconds"], second["gauges"]) == ([], [], [])
    LoadStats().merge(second, source="w")  # an empty delta merges fine


def test_merge_rejects_malformed_delta_without_partial_changes():
    good = LoadStats()
    good.record("GET", "/", 5.0, at=T0)
    delta = good.drain()
    delta["seconds"][0]["latency"] = "not a histogram"
    master = LoadStats()
    with pytest.raises(ValueError):
        master.merge(delta, source="w")
    assert master.totals_requests == 0
    for bad in [{}, {"version": 99}, {"version": 1, "endpoints": [{}], "seconds": []}]:
        with pytest.raises(ValueError):
            master.merge(bad, source="w")


def test_seconds_close_after_the_window_and_release_their_histograms():
    clock = FakeClock()
    stats = LoadStats(window_s=10, clock=clock)
    for at, latency in [(T0 + 0.2, 10), (T0 + 0.7, 30), (T0 + 1.5, 50), (T0 + 5, 70)]:
        stats.record("GET", "/", latency, at=at)
    stats.record("GET", "/", 90, error="x", at=T0 + 1.6)

    assert stats.close_seconds(now=T0 + 10.5) == []  # second T0 ends at T0+1 > now-window
    (row,) = stats.close_seconds(now=T0 + 11.5)
    assert row == SecondSummary(T0, 2, 0, p50=row.p50, p95=30.0, p99=30.0, max=30.0, gauges={})
    assert row.p50 == pytest.approx(10.0, rel=1e-3)  # HDR precision, not an exact value
    clock.now = T0 + 12.0
    (row,) = stats.close_seconds()  # default now comes from the clock
    assert (row.second, row.requests, row.failures, row.max) == (T0 + 1, 2, 1, 90.0)
    rest = stats.close_all()
    assert [r.second for r in rest] == [T0 + 5]
    assert [r.second for r in stats.series] == [T0, T0 + 1, T0 + 5]
    assert stats.close_all() == []
    assert stats.totals_requests == 5  # endpoint totals are not per-second


def test_open_seconds_stay_bounded_over_a_long_run():
    stats = LoadStats(window_s=10)
    for t in range(3600):
        stats.record("GET", "/", 1 + t % 7, at=T0 + t + 0.5)
        stats.close_seconds(now=T0 + t + 0.9)
        assert len(stats._seconds) <= 11  # closed seconds keep a row, not a histogram
    assert len(stats.series) == 3600 - 11  # the last 11 seconds are still inside the window
    assert stats.totals_requests == 3600


def test_late_merge_adds_counts_but_keeps_percentiles():
    master = LoadStats(window_s=0)
    master.record("GET", "/", 10.0, at=T0 + 0.5)
    (closed,) = master.close_seconds(now=T0 + 2)
    late = LoadStats()
    late.record("GET", "/", 900.0, error="slow", at=T0 + 0.9)
    late.record("GET", "/", 900.0, at=T0 + 0.9)
    master.merge(late.drain(), source="w1")
    (row,) = master.series
    assert (row.requests, row.failures) == (3, 1)
    assert (row.p99, row.max) == (closed.p99, closed.max) == (10.0, 10.0)
    assert master.late_merges == 1
    assert master.total()["latency"]["max"] == 900.0  # endpoint figures still see it
    assert master.close_all() == []  # nothing reopened, nothing counted twice
    assert (master.series[0].requests, master.late_merges) == (3, 1)


def test_late_local_record_is_folded_into_its_row():
    stats = LoadStats(window_s=0)
    stats.record("GET", "/", 10.0, at=T0)
    stats.close_seconds(now=T0 + 5)
    stats.record("GET", "/", 20.0, error="e", at=T0 + 0.1)
    assert stats.close_seconds(now=T0 + 6) == []
    (row,) = stats.series
    assert (row.requests, row.failures, row.max) == (2, 1, 10.0)
    assert stats.late_merges == 1


def test_gauges_last_value_per_source_summed_across_sources():
    master = LoadStats()
    for source, values in [("w1", [5, 10]), ("w2", [7, 15])]:
        worker = LoadStats()
        worker.set_gauge("users", values[0], at=T0 + 0.1)
        master.merge(worker.drain(), source=source)  # drained twice within one second
        worker.set_gauge("users", values[1], at=T0 + 0.9)
        worker.set_gauge("in_flight", 2, at=T0 + 0.9)
        master.merge(worker.drain(), source=source)
    master.set_gauge("users", 1, at=T0 + 0.5)  # the master's own source
    (row,) = master.close_all()
    assert row.gauges == {"users": 26.0, "in_flight": 4.0}
    assert row.requests == 0  # a gauge-only second still gets a row


def test_late_gauge_is_dropped_and_counted():
    stats = LoadStats(window_s=0)
    stats.set_gauge("users", 4, at=T0)
    stats.close_seconds(now=T0 + 3)
    stats.set_gauge("users", 99, at=T0, source="w9")
    assert stats.series[0].gauges == {"users": 4.0}
    assert stats.late_gauges == 1


def test_latest_second_is_the_newest_complete_second_and_closes_nothing():
    stats = LoadStats(window_s=10)
    assert stats.latest_second(now=T0) is None
    stats.record("GET", "/", 10.0, at=T0 + 0.5)
    stats.record("GET", "/", 20.0, at=T0 + 1.5)
    stats.record("GET", "/", 30.0, at=T0 + 2.5)  # the current, incomplete second
    latest = stats.latest_second(now=T0 + 2.7)
    assert (latest.second, latest.requests, latest.max) == (T0 + 1, 1, 20.0)
    assert stats.series == []
    stats.close_all()
    assert stats.latest_second(now=T0 + 2.7).second == T0 + 1  # from the closed rows
    assert stats.latest_second(now=T0 + 99).second == T0 + 2


def test_histograms_are_keyed_and_decodable():
    stats = LoadStats()
    stats.record("GET", "/a", 12.0, at=T0)
    stats.record("POST", "/b", 30.0, at=T0)
    encoded = stats.histograms()
    assert list(encoded) == ["GET /a", "POST /b", "Aggregated"]
    assert LatencyHistogram.decode(encoded["Aggregated"]).count == 2
    assert LatencyHistogram.decode(encoded["POST /b"]).max_ms == 30.0
    assert stats.distribution()[-1] == (100.0, 30.0)


def test_record_uses_the_clock_when_at_is_omitted():
    clock = FakeClock(T0 + 3.4)
    stats = LoadStats(clock=clock)
    stats.record("GET", "/", 1.0)
    clock.now = T0 + 4.2
    stats.set_gauge("users", 2)
    assert [(r.second, r.requests, r.gauges) for r in stats.close_all()] == [
        (T0 + 3, 1, {}),
        (T0 + 4, 0, {"users": 2.0}),
    ]


def test_closed_model_stats_share_one_histogram_and_merge_into_an_open_master():
    closed = LoadStats(separate_service=False)
    for i in range(1, 1001):
        closed.record("GET", "/a", float(i), service_ms=1.0, at=100.0)  # service ignored
    (endpoint,) = closed.endpoints()
    assert endpoint["service"] == endpoint["latency"]
    assert endpoint["latency"]["p50"] == pytest.approx(500, rel=0.001)
    master = LoadStats(separate_service=True)
    master.merge(closed.drain(), source="w1")
    (merged,) = master.endpoints()
    assert merged["service"] == merged["latency"] == endpoint["latency"]
    assert master.total()["requests"] == 1000


@pytest.mark.parametrize("separate_service", [True, False])
def test_record_many_in_batches_equals_record_one_by_one(separate_service):
    events = _stream()
    one_by_one = LoadStats(window_s=3.0, separate_service=separate_service)
    _feed(one_by_one, events)
    batched = LoadStats(window_s=3.0, separate_service=separate_service)
    rows = [(f"id-{i}", m, n, at, lat, svc, err) for i, (m, n, lat, svc, err, at) in
            enumerate(events)]  # fmt: skip
    for start in range(0, len(rows), 512):
        batched.record_many(rows[start : start + 512])
    assert batched.endpoints() == one_by_one.endpoints()
    assert batched.total() == one_by_one.total()
    assert batched.histograms() == one_by_one.histograms()
    one_by_one.close_all()
    batched.close_all()
    assert batched.series == one_by_one.series
