"""One step of the search: a ``perflab run`` at a fixed arrival rate, judged on its files.

A step passes when every SLO holds *and* the open model kept up. The second part matters:
past the limit a server's throughput flattens while arrivals keep coming, so a step whose
completions fall short of its arrivals is overloaded even when no latency SLO was given.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perflab.load.results import MONITOR, RunResults, load_results
from perflab.load.slo import SLO, evaluate

MIN_ACHIEVED = 0.90  # completions per second below 90 % of the target rate: overloaded
MAX_NOT_ON_TIME = 0.10  # late or never started: more than 10 % of the iterations due


@dataclass
class StepResult:
    """What one step measured and why it passed or failed (a row of capacity.json)."""

    index: int
    phase: str  # ramp | bisect
    target_rate: float
    run_dir: str
    achieved_rate: float = 0.0  # iterations completed / the run's duration
    rps: float = 0.0
    requests: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    service_p95: float | None = None
    error_rate: float = 0.0
    due: int = 0
    late: int = 0
    dropped: int = 0
    server_cpu_max: float | None = None
    server_processes: int | None = None
    system_cpu_max: float | None = None
    db_connections_max: int | None = None
    db_saturated_seconds: int = 0  # seconds every database connection was active
    cpus: int = 1
    passed: bool = False
    reasons: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": "pass" if self.passed else "fail"}


def read_step(
    index: int, phase: str, target_rate: float, run_dir: Path, slos: Sequence[SLO]
) -> StepResult:
    """A step from its run directory (results.json through load_results, and monitor.csv)."""
    results = load_results(run_dir)
    return judge_step(index, phase, target_rate, str(run_dir), results, read_monitor(run_dir), slos)


def read_monitor(run_dir: Path) -> list[dict[str, str]]:
    try:
        with open(Path(run_dir) / MONITOR, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []  # the monitor is evidence, not a requirement


def judge_step(
    index: int,
    phase: str,
    target_rate: float,
    run_dir: str,
    results: RunResults,
    monitor: Iterable[Mapping[str, str]],
    slos: Sequence[SLO],
) -> StepResult:
    """The step's figures and verdict: SLOs as ``perflab run`` judges them, plus keeping up."""
    totals = results.totals
    model = results.open_model
    duration = results.duration_s
    # Iterations completed; a closed-model run falls back to requests.
    completed = model.started - model.in_flight if model is not None else totals.requests
    rows = list(monitor)
    step = StepResult(
        index=index, phase=phase, target_rate=target_rate, run_dir=run_dir,
        achieved_rate=completed / duration if duration > 0 else 0.0,
        rps=totals.rps, requests=totals.requests,
        p50=totals.latency.p50, p95=totals.latency.p95, p99=totals.latency.p99,
        service_p95=totals.service.p95, error_rate=totals.error_rate,
        due=model.due if model else 0, late=model.late if model else 0,
        dropped=model.dropped if model else 0,
        server_cpu_max=_max(rows, "server_cpu_percent"),
        server_processes=_int(_max(rows, "server_processes")),
        system_cpu_max=_max(rows, "system_cpu_percent"),
        db_connections_max=_int(_max(rows, "db_connections")),
        db_saturated_seconds=_db_saturated_seconds(rows),
        cpus=results.environment.cpus or 1,
    )  # fmt: skip
    step.reasons = [
        r.detail for r in evaluate(slos, results.totals, results.endpoints) if not r.passed
    ]
    step.reasons += _shortfall(step, results)
    step.passed = not step.reasons
    return step


def _shortfall(step: StepResult, results: RunResults) -> list[str]:
    """Why the open model did not keep up, if it did not."""
    reasons = []
    if results.status != "completed":
        reasons.append(f"run {results.status}: {results.message}".strip())
    if step.requests == 0:
        reasons.append("no request completed")
    elif step.achieved_rate < MIN_ACHIEVED * step.target_rate:
        reasons.append(
            f"achieved {step.achieved_rate:.1f}/s < {MIN_ACHIEVED:.0%} of {step.target_rate:g}/s"
        )
    if step.due and (step.late + step.dropped) > MAX_NOT_ON_TIME * step.due:
        reasons.append(
            f"{step.late} late + {step.dropped} never started of {step.due} due "
            f"(> {MAX_NOT_ON_TIME:.0%})"
        )
    return reasons


def _numbers(rows: Iterable[Mapping[str, str]], column: str) -> list[float]:
    values = []
    for row in rows:
        try:
            values.append(float(row.get(column) or ""))
        except ValueError:
            continue  # empty: unknown that second
    return values


def _max(rows: list[Mapping[str, str]], column: str) -> float | None:
    return max(_numbers(rows, column), default=None)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _db_saturated_seconds(rows: list[Mapping[str, str]]) -> int:
    """Seconds at the top connection count with every connection active: a full pool."""
    top = _max(rows, "db_connections")
    if not top:
        return 0
    count = 0
    for row in rows:
        connections, active = _numbers([row], "db_connections"), _numbers([row], "db_active")
        if connections and active and connections[0] == top and active[0] >= connections[0]:
            count += 1
    return count
