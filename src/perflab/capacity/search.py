"""The search itself: one ``perflab run`` subprocess per step, as the planner proposes.

Each step is a real run in the open model (its own run directory under the search's), so
gevent patching, Locust and the statistics are exactly those of ``perflab run`` and any step
can be opened with ``perflab report``. Every step is bounded in time (``-t HOLD`` plus a
generous margin for start-up and draining) and the planner bounds the number of steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.capacity.chart import write_chart
from perflab.capacity.knee import find_knee
from perflab.capacity.plan import StepPlanner
from perflab.capacity.saturation import Saturation, judge_saturation
from perflab.capacity.step import StepResult, read_step
from perflab.errors import ExitCode, PerflabError
from perflab.load.slo import SLO
from perflab.probe.masking import redact_url

SCHEMA = "perflab.capacity/1"
STEP_MARGIN_S = 90.0  # start-up, the users' stop timeout and writing the run directory
STOP_TIMEOUT_S = 10.0


@dataclass
class SearchConfig:
    locustfile: Path
    host: str
    out: Path
    slos: Sequence[SLO] = ()
    user_classes: Sequence[str] = ()
    hold_s: float = 20.0
    max_in_flight: int = 200
    server_pid: int | None = None
    database_url: str | None = None


@dataclass
class CapacityResult:
    """Everything capacity.json holds; ``status`` says how the search ended."""

    steps: list[StepResult] = field(default_factory=list)
    status: str = "running"  # found | no_breach | start_breached | interrupted
    sustainable: StepResult | None = None
    knee: StepResult | None = None
    saturation: Saturation | None = None
    chart: Path | None = None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.SLO_BREACHED if self.status == "start_breached" else ExitCode.OK


class CapacitySearch:
    def __init__(self, config: SearchConfig, planner: StepPlanner) -> None:
        self.config = config
        self.planner = planner
        self.result = CapacityResult()
        self.started_at = time.time()

    def run(self, on_step: Callable[[StepResult], None] = lambda step: None) -> CapacityResult:
        """Steps until the planner is done; capacity.json is written even when interrupted."""
        self.config.out.mkdir(parents=True, exist_ok=True)
        try:
            while (rate := self.planner.next_rate()) is not None:
                phase = self.planner.phase
                step = self._step(len(self.result.steps) + 1, phase, rate)
                self.planner.record(rate, step.passed)
                self.result.steps.append(step)
                on_step(step)
            self._conclude()
        except KeyboardInterrupt:
            self._conclude()
            self.result.status = "interrupted"
            raise
        finally:
            self.write()
        return self.result

    def _step(self, index: int, phase: str, rate: float) -> StepResult:
        config = self.config
        run_dir = config.out / f"step-{index:02d}-{rate:g}"
        command = [
            sys.executable, "-m", "perflab", "run", "--headless", "--quiet",
            "-f", str(config.locustfile),
            "--host", config.host, "--arrival-rate", f"{rate:g}",
            "--max-in-flight", str(config.max_in_flight), "-t", f"{config.hold_s:g}s",
            "--stop-timeout", f"{STOP_TIMEOUT_S:g}", "--out", str(run_dir),
            "--label", f"capacity step {index} at {rate:g}/s",
        ]  # fmt: skip
        for slo in config.slos:
            command += ["--slo", slo.expression]
        if config.server_pid:
            command += ["--server-pid", str(config.server_pid)]
        if config.database_url:
            command += ["--database-url", config.database_url]
        command += list(config.user_classes)
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=dict(os.environ),
                timeout=config.hold_s + STOP_TIMEOUT_S + STEP_MARGIN_S,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise PerflabError(
                f"step {index} at {rate:g}/s did not finish in time", ExitCode.FAILED
            ) from None
        if done.returncode == ExitCode.INTERRUPTED:
            raise KeyboardInterrupt
        if done.returncode not in (ExitCode.OK, ExitCode.SLO_BREACHED):
            lines = (done.stderr or done.stdout).strip().splitlines()
            why = lines[-1] if lines else f"exit code {done.returncode}"
            why = why.removeprefix("perflab: error: ")
            code = ExitCode.USAGE if done.returncode == ExitCode.USAGE else ExitCode.FAILED
            raise PerflabError(f"step {index} at {rate:g}/s failed: {why}", code)
        return read_step(index, phase, rate, run_dir, config.slos)

    def _conclude(self) -> None:
        result, steps = self.result, self.result.steps
        failing = self.planner.failing
        passing = self.planner.passing
        result.sustainable = next((s for s in steps if s.passed and s.target_rate == passing), None)
        result.knee = find_knee(steps)
        result.saturation = judge_saturation(steps)
        if steps and failing is not None and failing <= steps[0].target_rate:
            result.status = "start_breached"
        elif failing is None:
            result.status = "no_breach"
        else:
            result.status = "found"

    def write(self) -> Path:
        """capacity.json, written atomically like results.json."""
        result = self.result
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "status": result.status,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(time.time()),
            "host": redact_url(self.config.host),  # never --host's credentials
            "locustfile": str(self.config.locustfile),
            "slos": [slo.expression for slo in self.config.slos],
            "settings": {
                "start_rate": self.planner.start,
                "step_factor": self.planner.factor,
                "step": self.planner.step,
                "max_rate": self.planner.max_rate,
                "max_steps": self.planner.max_steps,
                "bisect_steps": self.planner.bisect_steps,
                "hold_s": self.config.hold_s,
                "max_in_flight": self.config.max_in_flight,
            },
            "sustainable_rate": result.sustainable.target_rate if result.sustainable else None,
            "sustainable_achieved": (
                result.sustainable.achieved_rate if result.sustainable else None
            ),
            "lowest_failing_rate": self.planner.failing,
            "knee": _knee_dict(result.knee),
            "saturation": result.saturation.as_dict() if result.saturation else None,
            "steps": [step.as_dict() for step in result.steps],
        }
        result.chart = write_chart(result.steps, result.knee, self.config.out / "capacity.svg")
        data["chart"] = result.chart.name if result.chart else None
        target = self.config.out / "capacity.json"
        partial = target.with_suffix(".partial")
        partial.write_text(json.dumps(data, indent=1))
        os.replace(partial, target)
        return target


def _knee_dict(step: StepResult | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {"step_index": step.index, "target_rate": step.target_rate,
            "achieved_rate": step.achieved_rate, "p95": step.p95}  # fmt: skip


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(epoch))
