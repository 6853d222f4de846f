"""The request sample kept for the client/server join: bounded, mergeable, slowest kept."""

from perflab.load.samples import RequestSamples


def row(i: int, name: str = "/a", latency: float | None = None) -> tuple:
    return (f"id-{i}", "GET", name, float(i), float(latency if latency is not None else i % 97),
            1.0, None)  # fmt: skip


def test_reservoir_is_bounded_and_slowest_per_name_are_always_kept():
    samples = RequestSamples(capacity=100, slowest_per_name=5, seed=1)
    for i in range(10_000):
        samples.add(row(i, latency=i))  # the last five are the slowest
    assert samples.seen == 10_000
    assert len(samples.reservoir) == 100
    rows = samples.rows()
    assert {r[0] for r in rows} >= {f"id-{i}" for i in range(9995, 10_000)}
    assert len(rows) <= 105
    assert [r[3] for r in rows] == sorted(r[3] for r in rows)


def test_rows_without_a_request_id_are_skipped():
    samples = RequestSamples()
    samples.add((None, "GET", "/a", 0.0, 1.0, 1.0, None))
    assert samples.seen == 0 and samples.rows() == []


def test_reservoir_stays_uniform_across_merged_workers():
    merged = RequestSamples(capacity=1000, seed=2)
    for worker in range(2):
        local = RequestSamples(capacity=1000, seed=worker)
        for i in range(5000):
            local.add(row(worker * 5000 + i))
        merged.merge(local.drain())
        assert local.seen == 0 and local.reservoir == []
    assert merged.seen == 10_000
    first_half = sum(1 for r in merged.reservoir if int(r[0][3:]) < 5000)
    assert 400 < first_half < 600  # both workers equally represented


def test_slowest_rows_survive_a_merge():
    worker = RequestSamples(capacity=10, slowest_per_name=3, seed=3)
    for i in range(1000):
        worker.add(row(i, name="/slow", latency=5000.0 if i in (10, 500, 900) else 1.0))
    master = RequestSamples(capacity=10, slowest_per_name=3)
    master.merge(worker.drain())
    slow = sorted(r[0] for r in master.rows() if r[4] == 5000.0)
    assert slow == ["id-10", "id-500", "id-900"]


def test_ids_are_resolved_only_for_the_rows_kept():
    resolved = []

    def resolve(ref: str) -> str:
        resolved.append(ref)
        return ref.removeprefix("head:")

    samples = RequestSamples(capacity=100, slowest_per_name=5, seed=4, resolve=resolve)
    for i in range(20_000):
        samples.add((f"head:id-{i}", "GET", "/a", float(i), float(i % 1000), 1.0, None))
    rows = samples.rows()
    assert all(r[0].startswith("id-") for r in rows)  # every kept row carries the id
    assert len(rows) <= 105
    assert len(resolved) < 2_000  # most of the 20,000 rows were passed over unparsed


def test_add_many_keeps_what_add_keeps():
    rows = [row(i, name=f"/{i % 3}", latency=(i * 7919) % 1000) for i in range(30_000)]
    rows[100] = (None, *rows[100][1:])  # no id: skipped by both
    one_by_one = RequestSamples(capacity=500, slowest_per_name=5, seed=9)
    for r in rows:
        one_by_one.add(r)
    batched = RequestSamples(capacity=500, slowest_per_name=5, seed=9)
    for start in range(0, len(rows), 512):
        batched.add_many(rows[start : start + 512])
    assert batched.seen == one_by_one.seen == 29_999
    assert batched.rows() == one_by_one.rows()
