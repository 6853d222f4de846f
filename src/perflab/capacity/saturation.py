"""Which resource gave out first, judged on the first failing step (the lowest failing rate).

Checked in this order, the first that holds wins (every one found is kept as evidence):

1. **server CPU**: the server's process tree peaked at ≥ 90 % of ``cpus * 100`` — or at
   ≥ 90 % of one core when the server is a single process (one GIL: one core is its ceiling);
2. **database connections**: for ≥ 3 seconds every connection was active at the step's top
   connection count (a full pool: the count plateaus while requests wait for one);
3. **workers busy (requests queue)**: CPU below that, yet requests waited — iterations
   started late or not at all, completions fell short of arrivals, or p95 at least doubled
   since the last passing step: the server's workers were all busy and requests queued;
4. **errors**: the step failed with errors and none of the above;
5. otherwise "unknown" (e.g. the server's CPU was not measured and nothing queued).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from perflab.capacity.step import StepResult

CPU_SHARE = 0.90
DB_FULL_SECONDS = 3
LATENCY_RISE = 2.0


@dataclass
class Saturation:
    """The verdict ("server CPU", …), the step it was judged on and the evidence seen."""

    resource: str
    step_index: int | None
    evidence: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge_saturation(steps: Sequence[StepResult]) -> Saturation | None:
    """None when no step failed (nothing saturated within the rates tried)."""
    failing = sorted((s for s in steps if not s.passed), key=lambda s: s.target_rate)
    if not failing:
        return None
    step = failing[0]
    below = [s for s in steps if s.passed and s.target_rate < step.target_rate]
    previous = max(below, key=lambda s: s.target_rate, default=None)
    found: list[tuple[str, str]] = []
    ceiling = cpu_ceiling(step)
    if step.server_cpu_max is not None and step.server_cpu_max >= CPU_SHARE * ceiling:
        found.append(("server CPU", f"server CPU peaked at {step.server_cpu_max:.0f}% "
                      f"of {ceiling:.0f}%"))  # fmt: skip
    if step.db_saturated_seconds >= DB_FULL_SECONDS:
        found.append(("database connections", f"all {step.db_connections_max} database "
                      f"connections active for {step.db_saturated_seconds} s"))  # fmt: skip
    queued = _queue_evidence(step, previous)
    if queued:
        found.append(("workers busy (requests queue)", queued))
    if step.error_rate > 0:
        found.append(("errors", f"error rate {step.error_rate:.2%}"))
    if not found:
        return Saturation("unknown", step.index, ["no resource signal in the failing step"])
    return Saturation(found[0][0], step.index, [text for _, text in found])


def cpu_ceiling(step: StepResult) -> float:
    """What 100 % busy means for this server, in percent of one core."""
    if step.server_processes == 1:
        return 100.0
    return 100.0 * max(step.cpus, 1)


def _queue_evidence(step: StepResult, previous: StepResult | None) -> str:
    signs = []
    if step.late or step.dropped:
        signs.append(f"{step.late} late starts, {step.dropped} never started")
    if step.target_rate and step.achieved_rate < 0.9 * step.target_rate:
        signs.append(f"achieved {step.achieved_rate:.1f}/s of {step.target_rate:g}/s")
    if previous and previous.p95 and step.p95 and step.p95 >= LATENCY_RISE * previous.p95:
        signs.append(f"p95 {previous.p95:.0f} → {step.p95:.0f} ms")
    return "; ".join(signs)
