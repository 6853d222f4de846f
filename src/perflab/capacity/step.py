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

from perflab.load.results import MONITOR, load_results
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
    results: Mapping[str, Any],
    monitor: Iterable[Mapping[str, str]],
    slos: Sequence[SLO],
) -> StepResult:
    """The step's figures and verdict: SLOs as ``perflab run`` judges them, plus keeping up."""
    totals = results["totals"]
    latency = totals.get("latency") or {}
    model = results.get("open_model") or {}
    duration = float(results.get("duration_s") or 0)
    completed = int(model.get("started", 0)) - int(model.get("in_flight", 0))
    if not model:  # not an open-model run: fall back to requests
        completed = int(totals.get("requests", 0))
    rows = list(monitor)
    step = StepResult(
        index=index, phase=phase, target_rate=target_rate, run_dir=run_dir,
        achieved_rate=completed / duration if duration > 0 else 0.0,
        rps=float(totals.get("rps", 0.0)), requests=int(totals.get("requests", 0)),
        p50=latency.get("p50"), p95=latency.get("p95"), p99=latency.get("p99"),
        service_p95=(totals.get("service") or {}).get("p95"),
        error_rate=float(totals.get("error_rate", 0.0)),
        due=int(model.get("due", 0)), late=int(model.get("late", 0)),
        dropped=int(model.get("dropped", 0)),
        server_cpu_max=_max(rows, "server_cpu_percent"),
        server_processes=_int(_max(rows, "server_processes")),
        system_cpu_max=_max(rows, "system_cpu_percent"),
        db_connections_max=_int(_max(rows, "db_connections")),
        db_saturated_seconds=_db_saturated_seconds(rows),
        cpus=int((results.get("environment") or {}).get("cpus") or 1),
    )  # fmt: skip
    step.reasons = [r.detail for r in evaluate(slos, results) if not r.passed]
    step.reasons += _shortfall(step, results)
    step.passed = not step.reasons
    return step


def _shortfall(step: StepResult, results: Mapping[str, Any]) -> list[str]:
    """Why the open model did not keep up, if it did not."""
    reasons = []
    if results.get("status") != "completed":
        reasons.append(f"run {results.get('status')}: {results.get('message', '')}".strip())
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
