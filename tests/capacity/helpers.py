"""Step results as data: what a run directory would have said, built by hand."""

from __future__ import annotations

from perflab.capacity.step import StepResult
from perflab.load.results import SCHEMA, RunResults


def step(rate: float, p95: float, achieved: float | None = None, passed: bool = True,
         index: int = 0, **fields) -> StepResult:  # fmt: skip
    return StepResult(
        index=index or int(rate), phase="ramp", target_rate=rate, run_dir="",
        achieved_rate=rate if achieved is None else achieved, p95=p95, passed=passed,
        reasons=[] if passed else ["breached"], **fields,
    )  # fmt: skip


def results(rate: float, seconds: float = 4.0, completed: int | None = None, p95: float = 12.0,
            late: int = 0, dropped: int = 0, error_rate: float = 0.0) -> RunResults:  # fmt: skip
    """A results.json as `perflab run --arrival-rate` writes it (the fields capacity reads)."""
    due = int(rate * seconds)
    done = due - dropped if completed is None else completed
    latency = {"count": done, "min": 1.0, "mean": p95 / 2, "p50": p95 / 2, "p75": p95 / 2,
               "p90": p95, "p95": p95, "p99": p95 * 1.1, "p99_9": p95 * 1.2,
               "p99_99": p95 * 1.2, "max": p95 * 1.2}  # fmt: skip
    return RunResults.from_json({
        "schema": SCHEMA, "status": "completed", "started_at": "2026-11-24T11:34:22+00:00",
        "ended_at": "2026-11-24T11:34:26+00:00", "duration_s": seconds,
        "totals": {"method": "", "name": "Aggregated", "requests": done,
                   "failures": round(done * error_rate), "error_rate": error_rate,
                   "rps": done / seconds, "latency": latency, "service": latency},
        "endpoints": [], "model": "open",
        "open_model": {"rate": rate, "due": due, "started": done, "late": late,
                       "dropped": dropped, "in_flight": 0},
        "environment": {"cpus": 2},
    })  # fmt: skip
