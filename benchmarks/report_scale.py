"""Report scale: a long, wide synthetic run → `build_report` in < 10 s, HTML < 5 MB.

    .venv/bin/python benchmarks/report_scale.py [--requests 1000000] [--endpoints 100]
        [--hours 4] [--store-rows 100000] [--markdown]

Method. A run directory is written through the runner's own writer (``RunDirectory.write``):
1M requests over 100 endpoints, per-endpoint HDR histograms, one series row and one
monitor row per second for 4 h, the 10,000 + 10-per-endpoint join sample in requests.csv.
A probe store is written through ``RecordingStore.write`` with as many request rows as
the probe keeps by default (100,000), some with N+1 findings, and named in results.json.
Only ``build_report`` is timed (best of --repeat), and the file's size is printed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from perflab.histogram import LatencyHistogram  # noqa: E402
from perflab.load.results import SCHEMA, RunDirectory  # noqa: E402
from perflab.load.samples import FIELDS  # noqa: E402

TIME_LIMIT_S = 10.0
SIZE_LIMIT_MB = 5.0


def _summary(hist: LatencyHistogram) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in hist.summary().items()}


def synthesise(
    path: Path,
    requests: int = 1_000_000,
    endpoints: int = 100,
    seconds: int = 4 * 3600,
    store_rows: int = 0,
    seed: int = 5,
) -> Path:
    """Write a run directory (and a probe store next to it when ``store_rows``)."""
    rng = random.Random(seed)
    start = 1_795_000_000.0
    names = [f"/api/resource{i}/<pk>/" for i in range(endpoints)]
    weights = [1 / (i + 1) for i in range(endpoints)]
    scale = requests / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    counts[0] += requests - sum(counts)
    histograms, rows, overall = {}, [], LatencyHistogram()
    for i, (name, count) in enumerate(zip(names, counts, strict=True)):
        hist = LatencyHistogram()
        base = 5 + i % 40
        # A log-normal-ish shape from a few hundred distinct values with counts: fast to record.
        for _ in range(400):
            hist.record_ms(base * rng.lognormvariate(0, 0.6), max(1, count // 400))
        failures = count // 500 if i % 7 == 0 else 0
        overall.merge(hist)
        histograms[f"GET {name}"] = hist.encode()
        rows.append({
            "method": "GET", "name": name, "requests": hist.count, "failures": failures,
            "error_rate": failures / hist.count, "rps": hist.count / seconds,
            "latency": _summary(hist), "service": _summary(hist),
            "errors": [{"message": "HTTPError: 500 Server Error", "count": failures}]
            if failures else [],
        })  # fmt: skip
    histograms["Aggregated"] = overall.encode()
    total_failures = sum(r["failures"] for r in rows)
    totals = {
        "method": "", "name": "Aggregated", "requests": overall.count, "failures": total_failures,
        "error_rate": total_failures / overall.count, "rps": overall.count / seconds,
        "latency": _summary(overall), "service": _summary(overall), "errors": [],
    }  # fmt: skip
    per_second = overall.count / seconds
    series = [
        {"second": int(start) + s, "requests": int(per_second + rng.uniform(-5, 5)),
         "failures": rng.choice((0, 0, 0, 1)), "p50": 9 + rng.random(),
         "p95": 30 + 5 * rng.random(),
         "p99": 45 + 20 * rng.random(), "max": 90 + 50 * rng.random(),
         "users": min(200, 1 + s // 60), "in_flight": rng.randint(0, 20)}
        for s in range(seconds)
    ]  # fmt: skip
    monitor = [
        {"t": start + s, "server_cpu_percent": round(60 + 30 * rng.random(), 1),
         "server_rss_mb": round(300 + s / 100, 1), "server_processes": 5,
         "system_cpu_percent": round(70 + 20 * rng.random(), 1), "system_memory_percent": 40.0,
         "system_memory_used_mb": 3000.0, "db_connections": 8, "db_active": rng.randint(0, 8)}
        for s in range(seconds)
    ]  # fmt: skip
    samples = []
    for _ in range(10_000 + 10 * endpoints):
        i = rng.choices(range(endpoints), weights)[0]
        latency = round((5 + i % 40) * rng.lognormvariate(0, 0.6), 3)
        samples.append((uuid.uuid4().hex, "GET", names[i], start + rng.uniform(0, seconds),
                        latency, latency, ""))  # fmt: skip
    store = path / "probe.sqlite3" if store_rows else None
    results = {
        "schema": SCHEMA, "status": "completed", "message": "", "label": "report-scale",
        "started_at": _iso(start), "ended_at": _iso(start + seconds), "duration_s": seconds,
        "totals": totals, "endpoints": rows, "model": "closed",
        "shape": "ramp: 200 users over 4h", "open_model": None, "grouping": "routes",
        "probe_store": str(store) if store else None,
        "slos": [{"expression": "p95<200ms", "scope": None, "metric": "p95", "op": "<",
                  "threshold": 200.0, "passed": True, "actual": totals["latency"]["p95"],
                  "where": "all requests",
                  "detail": f"p95 {totals['latency']['p95']} ms < 200 ms"}],
        "verdict": "pass", "distribution": [list(p) for p in overall.distribution()],
        "series": series, "user_errors": [], "samples": {"kept": len(samples), "seen": requests},
        "monitor": {"server_pid": 4242, "warnings": []},
        "environment": {"perflab": "0.1.0", "locust": "2.x", "python": "3.11", "platform": "x",
                        "hostname": "bench", "cpus": 2, "target": "http://127.0.0.1:8000",
                        "workers": 0, "user_classes": ["BenchUser"]},
        "settings": {"users": 200, "spawn_rate": 1.0},
    }  # fmt: skip
    RunDirectory(path).create().write(results, histograms, series, monitor, samples, FIELDS)
    if store:
        _write_store(store, names, samples, store_rows, start, seconds, rng)
    return path


def _write_store(store_path, names, samples, rows, start, seconds, rng) -> None:
    from perflab.probe.records import Finding, QueryEvent, RequestRecord
    from perflab.probe.store import RecordingStore

    store = RecordingStore.at_path(store_path)
    ids = [s[0] for s in samples]
    batch: list[RequestRecord] = []
    for n in range(rows):
        i = n % len(names)
        request_id = ids[n] if n < len(ids) else uuid.uuid4().hex
        queries = [
            QueryEvent(f"SELECT * FROM t{i} WHERE id = %s", f"SELECT * FROM t{i} WHERE id = ?",
                       f"h{i}", 0.3 + rng.random(), "default", 1.0, f"app/views.py:{i}:view")
            for _ in range(1 + (n % 5 == 0) * 9)
        ]  # fmt: skip
        findings = []
        if len(queries) > 1:
            findings = [Finding("n_plus_one", f"h{i}", queries[0].fingerprint, queries[0].callsite,
                                len(queries), sum(q.duration_ms for q in queries),
                                queries[0].sql, "select_related('x')")]  # fmt: skip
        batch.append(RequestRecord(
            request_id=request_id, method="GET", path=f"/api/resource{i}/1/",
            started=start + rng.uniform(0, seconds), pid=1, route=names[i][1:],
            view=f"app.views.view{i}", status=200, duration_ms=5 + 20 * rng.random(),
            cpu_ms=3.0, response_bytes=512, queries=queries, findings=findings,
        ))  # fmt: skip
        if len(batch) == 5000:
            store.write(batch)
            batch = []
    if batch:
        store.write(batch)


def _iso(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--store-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    from perflab.report import build_report

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        t0 = time.perf_counter()
        synthesise(run, args.requests, args.endpoints, int(args.hours * 3600), args.store_rows)
        made = time.perf_counter() - t0
        timings = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = build_report(run)
            timings.append(time.perf_counter() - t0)
        size_mb = out.stat().st_size / 1e6
    best = min(timings)
    ok = best < TIME_LIMIT_S and size_mb < SIZE_LIMIT_MB
    if args.markdown:
        print("| requests | endpoints | series rows | store rows | build (best of "
              f"{args.repeat}) | HTML |\n| --- | --- | --- | --- | --- | --- |\n"
              f"| {args.requests:,} | {args.endpoints} | {int(args.hours * 3600):,} | "
              f"{args.store_rows:,} | {best:.2f} s | {size_mb:.2f} MB |")  # fmt: skip
    else:
        print(f"synthesised in {made:.1f} s; build_report: best {best:.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in timings)}), HTML {size_mb:.2f} MB "
              f"→ {'OK' if ok else 'OVER'} "
              f"(limits {TIME_LIMIT_S:.0f} s, {SIZE_LIMIT_MB:.0f} MB)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
