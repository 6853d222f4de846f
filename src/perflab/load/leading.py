"""``LeadingRun``: the process that leads a run — local, or the master of workers.

It starts the load, watches it each second (gauges, closed seconds, the live view,
``--abort-on-fail``, the server's resources), stops it, and turns what was measured into
a ``RunResults`` and the run directory. Where the load runs — in this process's users or in
its workers' — is the subclass's part: the Locust runner it creates, how the open model
starts, how users stop, and where the open model's counters come from.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import signal
import socket
import sys
import time
from argparse import Namespace
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import msgspec
from rich.console import Console

from perflab import __version__
from perflab.load.durations import MAX_RUN_TIME_S
from perflab.load.iterations import IterationLimit
from perflab.load.keyboard import listen_to_keys
from perflab.load.live import LiveFigures, LiveView
from perflab.load.locust_outputs import LocustOutputs
from perflab.load.monitor import ResourceMonitor
from perflab.load.registry import RunRegistry, masked_command
from perflab.load.results import (
    CountedMessage,
    EndpointFigures,
    Environment,
    MonitorFacts,
    OpenModelFigures,
    RunDirectory,
    RunResults,
    SampleCounts,
)
from perflab.load.runner import LoadRun, RunConfig, RunOutcome, redacted
from perflab.load.samples import FIELDS
from perflab.load.scenario import Scenario
from perflab.load.slo import SLOResult, evaluate
from perflab.load.stats import SecondSummary

ABORT_CHECK_EVERY_S = 5.0
ABORT_GRACE_S = 10.0  # SLOs are not judged for --abort-on-fail before this much of the run


class LeadingRun(LoadRun):
    """Local or master: start the load, watch it each second, stop it, write the results."""

    gauge_source = "local"  # whose users the "users" gauge counts

    def __init__(
        self, config: RunConfig, console: Console, scenario: Scenario | None = None,
        parsed_options: Namespace | None = None,
    ) -> None:  # fmt: skip
        super().__init__(config, console, scenario, parsed_options)
        self.monitor: ResourceMonitor | None = None
        self._monitor_done = False
        self._stop_reason: str | None = None
        # Set with the stop reason: the loop acts on Ctrl-C now, not at the next second, so
        # the load stops before anything else reacts to the same signal.
        self._woken = gevent.event.Event()
        self.failure = "the run failed"  # why, when the status is "failed"
        self.abort_detail = "an SLO was breached"  # which one, when "aborted"
        self.schedule_started_epoch: float | None = None  # open model: the schedule's zero
        self.iteration_limit: IterationLimit | None = None
        self.registry = RunRegistry(
            config.store, config.host, masked_command(["perflab", *sys.argv[1:]]), console
        )

    # -- what a role decides ----------------------------------------------------------------
    def _create_runner(self, run_dir: RunDirectory | None):
        """The Locust runner this role drives, ready to start."""
        raise NotImplementedError

    def _start_open_model(self) -> None:
        """Before the users start: how the arrival schedule gets going."""
        raise NotImplementedError

    def _stop_users(self) -> float:
        """Stop the load; return when it had stopped (this clock)."""
        raise NotImplementedError

    def _await_ready(self) -> None:
        """After Locust's ``init``, before the load: wait for what the role needs (workers)."""

    def _begin_test(self) -> None:
        """Locust's web UI started another test: forget the last one's role state."""

    def _await_last_figures(self) -> float:
        """Locust's web UI stopped a test: wait, bounded, for figures still on their way;
        return when the load ended (this clock)."""
        return time.time()

    def _abandon(self) -> None:
        """The run never started (``init`` raised, workers missing): end what was started."""

    def _release(self) -> None:
        """After the runner quit: let go of what the role started (processes)."""

    def _open_snapshots(self) -> list[dict[str, float]]:
        """The open model's counters, one snapshot per process that runs arrivals."""
        raise NotImplementedError

    def _lost(self) -> str | None:
        """Why the run cannot go on (checked each second), or None."""
        return None

    def _locustfile_shape(self, scenario):
        from perflab.load.shapes import shape_from_locustfile

        if scenario.shapes and not self.config.arrival_rate:
            return shape_from_locustfile(scenario.shapes, self.config.run_time_s)
        return None

    # -- the run ------------------------------------------------------------------------------
    def _run(self, run_dir: RunDirectory | None, shape) -> RunOutcome:
        if self.grouping_reason:  # one line, before the live view
            self._say_no_grouping()
        self.runner = self._create_runner(run_dir)
        if self.env.reset_stats:  # --reset-stats: Locust resets its figures when spawning ends
            self.env.events.spawning_complete.add_listener(self._reset_figures)
        try:
            self._fire_init()
            self._await_ready()
        except BaseException:
            self._abandon()
            raise
        self._start_monitor()
        outputs = LocustOutputs(self.env, self.parsed_options)
        outputs.start()
        for signum in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(signum, self._interrupt)
        self.started = time.time()
        self.env.events.test_start.add_listener(
            lambda **_kwargs: self._open_run(run_dir.path if run_dir else None)
        )
        status = "completed"
        keys = None
        try:
            self._start_load(shape)
            if not self.config.arrival_rate:  # users are the open model's pool there
                keys = listen_to_keys(self.runner)
            target = redacted(self.config.host)
            with LiveView(self.console, quiet=self.config.quiet, target=target) as view:
                status = self._watch(view, shape)
        finally:
            if keys is not None:
                keys.kill(block=True, timeout=1)
            self.ended = self._stop_load()
        self._fire_quitting()
        outcome = self._finish(status, run_dir, shape)
        outputs.finish()
        self.env.events.quit.fire(exit_code=outcome.exit_code)
        return outcome

    def _reset_figures(self, **_kwargs) -> None:
        """perflab's figures restart with Locust's; the run still ends ``-t`` after its start
        (the per-second loop took its deadline before any user spawned)."""
        self._forget_figures(separate_service=self.config.arrival_rate is not None)
        self.started = time.time()

    def _start_load(self, shape) -> None:
        config = self.config
        options = self.parsed_options
        if options is not None:  # Locust's headless defaults, where its locustfiles read them
            if options.num_users is None:
                options.num_users = 1
            if options.spawn_rate is None:
                options.spawn_rate = 1
        if config.iterations:
            self.iteration_limit = IterationLimit(config.iterations)
            self.iteration_limit.install()
        if shape is not None:
            self.runner.start_shape()
        elif config.arrival_rate:
            self._start_open_model()
            self.runner.start(config.max_in_flight, spawn_rate=max(config.max_in_flight, 1))
        else:
            self.runner.start(config.users, spawn_rate=config.spawn_rate)

    def _watch(self, view: LiveView, shape) -> str:
        from locust.runners import STATE_STOPPED

        deadline = self.started + (self.config.run_time_s or MAX_RUN_TIME_S)
        next_abort_check = self.started + ABORT_GRACE_S
        while True:
            now = time.time()
            self._woken.wait(max(0.0, 1.0 - (now - self.started) % 1.0))
            now = time.time()
            self.fold()
            self._gauges(now)
            self.stats.close_seconds(now)
            view.update(self.snapshot(now))
            if self._stop_reason:
                return self._stop_reason
            if now >= deadline:
                return "completed"
            if shape is not None and getattr(shape, "error", ""):
                self.failure = f"the load shape's tick() raised {shape.error}"
                return "failed"
            if self.runner.state == STATE_STOPPED:
                return "completed"  # the shape said the test is over, or runner.quit()
            if self._iterations_done():
                return "completed"
            lost = self._lost()
            if lost:
                self.failure = lost
                return "failed"
            if self.config.abort_on_fail and now >= next_abort_check:
                next_abort_check = now + ABORT_CHECK_EVERY_S
                if self._breached_ceilings(now):
                    return "aborted"

    def _iterations_done(self) -> bool:
        """-i/--iterations: every allowed iteration finished (perflab's count), or
        locust-plugins' limit reached and its users gone (it quits only from the last user
        to find the limit, which users in step never are)."""
        if self.iteration_limit is not None:
            return self.iteration_limit.done
        runner = self.runner
        return bool(getattr(runner, "iteration_target_reached", False)) and not runner.user_count

    def _stop_load(self) -> float:
        """Stop the users; return when they had stopped, the run's end (workers leaving and
        processes exiting after that are not run time)."""
        try:
            stopped_at = self._stop_users()
            self.runner.quit()
        finally:
            self._release()
            if self.monitor is not None:
                self._monitor_done = True
        return stopped_at

    # -- each second ------------------------------------------------------------------------
    def _gauges(self, now: float) -> None:
        source = self.gauge_source
        self.stats.set_gauge("users", self.runner.user_count, now, source=source)
        for key, value in self._open_totals().items():
            if key in ("rate", "late", "dropped"):
                self.stats.set_gauge("arrival_rate" if key == "rate" else key, value, now, source)

    def _open_totals(self) -> dict[str, float]:
        snapshots = self._open_snapshots()
        if not snapshots:
            return {}
        totals: dict[str, float] = {}
        for snapshot in snapshots:
            for key, value in snapshot.items():
                if key == "max_lateness_ms":
                    totals[key] = max(totals.get(key, 0.0), value)
                elif isinstance(value, int | float):
                    totals[key] = totals.get(key, 0) + value
        return totals

    def snapshot(self, now: float) -> LiveFigures:
        """What the live view shows: this second's rate, the run's percentiles so far."""
        total = self.stats.total()
        latest = self.stats.latest_second(now)
        open_totals = self._open_totals()
        measured = total["requests"] > 0
        return LiveFigures(
            elapsed_s=now - self.started,
            duration_s=self.config.run_time_s,
            users=self.runner.user_count,
            arrival_rate=open_totals.get("rate") if self.config.arrival_rate else None,
            rps=latest.requests if latest else 0,
            p50=total["latency"]["p50"] if measured else None,
            p95=total["latency"]["p95"] if measured else None,
            p99=total["latency"]["p99"] if measured else None,
            requests=total["requests"],
            failures=total["failures"],
            error_rate=total["error_rate"],
            in_flight=int(latest.gauges.get("in_flight", 0)) if latest else 0,
            late=int(open_totals.get("late", 0)),
            dropped=int(open_totals.get("dropped", 0)),
        )

    def _breached_ceilings(self, now: float) -> bool:
        ceilings = [slo for slo in self.config.slos if slo.is_ceiling]
        if not ceilings:
            return False
        totals, endpoints = self._figures(now - self.started)
        results = evaluate(ceilings, totals, endpoints)
        breached = [r for r in results if not r.passed and r.actual is not None]
        if breached:
            self.abort_detail = breached[0].detail
        return bool(breached)

    def _start_monitor(self) -> None:
        from urllib.parse import urlsplit

        from rich.markup import escape

        config = self.config
        if config.host is None:  # users that make no HTTP request of their own: no server
            self.monitor = ResourceMonitor(None, config.database_url)
        else:
            parts = urlsplit(config.host)
            self.monitor = ResourceMonitor.for_target(
                parts.hostname,
                parts.port or (443 if parts.scheme == "https" else 80),
                config.server_pid,
                config.database_url,
            )
        for warning in self.monitor.warnings:  # no server found: say so now, not in the JSON only
            self.console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        self._monitor_done = False
        monitor = self.monitor  # a later test's monitor ends this one's loop too
        gevent.spawn(monitor.run, lambda: self._monitor_done or self.monitor is not monitor)

    def _say_no_grouping(self) -> None:
        from rich.markup import escape

        self.console.print(
            f"[yellow]no route grouping:[/] {escape(self.grouping_reason)}; "
            "endpoints keep Locust's names",
            highlight=False,
        )

    def _open_run(self, run_dir: Path | None) -> None:
        """The load starts (Locust's ``test_start``): the run's request ids, the workers told
        them (Locust's spawn message carries ``parsed_options``), the run registered."""
        self.tracker.for_run(self.run_id)
        if self.parsed_options is not None:
            self.parsed_options.perflab_run_id = self.run_id
        self.registry.started(self.run_id, self.started, run_dir)

    def _interrupt(self) -> None:
        self._stop_reason = "interrupted"
        self._woken.set()

    # -- the end ------------------------------------------------------------------------------
    def _figures(self, duration_s: float) -> tuple[EndpointFigures, list[EndpointFigures]]:
        """The totals and each endpoint, with req/s over ``duration_s``."""
        duration = max(duration_s, 1e-9)

        def figures(report: dict[str, Any]) -> EndpointFigures:
            data = {**report, "rps": report["requests"] / duration}
            return msgspec.convert(data, EndpointFigures, strict=True)

        return figures(self.stats.total()), [figures(e) for e in self.stats.endpoints()]

    def _finish(self, status: str, run_dir: RunDirectory | None, shape) -> RunOutcome:
        self.fold()
        self.stats.close_all()
        config = self.config
        duration = self.ended - self.started
        totals, endpoints = self._figures(duration)
        message = ""
        if status == "failed":
            message = self.failure
        elif totals.requests == 0:
            status, message = "failed", _nothing_measured(self.user_errors)
        slo_results = evaluate(list(config.slos), totals, endpoints) if config.slos else []
        sample_rows = self.samples.rows()  # sorted once: counted here, written below
        if status == "aborted":
            message = f"aborted early: {self.abort_detail}"
        results = RunResults(
            status=status, message=message, label=config.label,
            started_at=_iso(self.started), ended_at=_iso(self.ended), duration_s=duration,
            totals=totals, endpoints=endpoints,
            model="open" if config.arrival_rate else "closed",
            shape=shape.describe() if hasattr(shape, "describe") else None,
            open_model=self._open_model_figures(),
            grouping="routes" if self.grouper else "locust names",
            grouping_reason=self.grouping_reason or None,
            probe_store=config.store,
            slos=[result.as_record() for result in slo_results],
            verdict=_verdict(slo_results),
            distribution=self.stats.distribution(),
            series=[_row(row) for row in self.stats.series],
            user_errors=[
                CountedMessage(message=m, count=c)
                for m, c in sorted(self.user_errors.items(), key=lambda item: -item[1])
            ],
            samples=SampleCounts(kept=len(sample_rows), seen=self.samples.seen),
            monitor=MonitorFacts(
                server_pid=self.monitor.server_pid if self.monitor else None,
                warnings=list(self.monitor.warnings) if self.monitor else [],
            ),
            environment=self._environment(),
            settings=config.describe(),
        )  # fmt: skip
        if run_dir is not None:
            run_dir.write(
                results.to_json(), self.stats.histograms(), results.series,
                self.monitor.samples if self.monitor else [], sample_rows, FIELDS,
            )  # fmt: skip
        self.registry.ended(
            self.run_id, self.started, self.ended, results, run_dir.path if run_dir else None
        )
        return RunOutcome(
            status, results, slo_results, run_dir.path if run_dir else None, message,
            locust_exit_code=self._locust_exit_code(status),
        )  # fmt: skip

    def _locust_exit_code(self, status: str) -> int | None:
        """Where Locust decides the exit code: a locustfile's ``process_exit_code``; or,
        when no SLO judges the run, ``--exit-code-on-error`` for failed requests (Locust's
        rule). None leaves it to perflab's verdict."""
        if self.env.process_exit_code is not None:
            return int(self.env.process_exit_code)
        options = self.parsed_options
        if options is None or self.config.slos or status != "completed":
            return None
        runner = self.runner
        if runner.errors or runner.exceptions:
            return int(options.exit_code_on_error)
        return None

    def _open_model_figures(self) -> OpenModelFigures | None:
        totals = self._open_totals()
        if not totals:
            return None
        return OpenModelFigures(
            **totals,
            target=str(self.config.arrival_rate),
            max_in_flight=self.config.max_in_flight,
            schedule_started_epoch=self.schedule_started_epoch,
        )

    def _environment(self) -> Environment:
        import locust

        config, app = self.config, self.app_facts
        return Environment(
            perflab=__version__, locust=locust.__version__,
            python=platform.python_version(), platform=platform.platform(),
            hostname=socket.gethostname(), cpus=os.cpu_count(),
            target=redacted(config.host),  # no userinfo from --host
            workers=config.workers or config.expect_workers,
            user_classes=[cls.__name__ for cls in self.user_classes],
            django=app.get("django"), debug=app.get("debug"), database=app.get("database"),
            app_python=app.get("python"), data_volume=config.data_volume,
        )  # fmt: skip


def _row(row: SecondSummary) -> dict[str, float]:
    """A closed second with its gauges beside its figures, as series.csv has them."""
    data = asdict(row)
    gauges = data.pop("gauges", {}) or {}
    return {**data, **gauges}


def _verdict(results: list[SLOResult]) -> str:
    if not results:
        return "none"
    return "pass" if all(r.passed for r in results) else "fail"


def _nothing_measured(user_errors: dict[str, int]) -> str:
    if user_errors:
        top = max(user_errors, key=user_errors.get)
        return f"no request completed; the locustfile's tasks raised: {top}"
    return "no request completed"


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")
