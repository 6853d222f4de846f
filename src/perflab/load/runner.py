"""``perflab run``: a locustfile run headless by Locust, measured by perflab.

Locust spawns the users and sends the requests; perflab listens to every request event and
keeps its own statistics (exact HDR percentiles, per-second series, a sample of request ids
for the server-side join), drives the open model, watches the server's resources, and
writes the run directory. The same process plays one of three roles: ``local`` (everything
here), ``master`` (merges what its workers report) or ``worker`` (sends what it measured).
This module must run in a gevent-patched process (the ``perflab run`` command patches first).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import re
import signal
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gevent

from perflab import __version__
from perflab.errors import ExitCode, PerflabError
from perflab.load.arrival import ArrivalRate, OpenModel
from perflab.load.client import ID_LINE, ClientTracker, request_id_of, resolve_request_id
from perflab.load.distributed import MASTER_PORT
from perflab.load.grouping import RouteGrouper, fetch_app_description
from perflab.load.live import LiveView
from perflab.load.monitor import ResourceMonitor
from perflab.load.results import SCHEMA, RunDirectory
from perflab.load.samples import FIELDS, RequestSamples
from perflab.load.scenario import load_scenario
from perflab.load.slo import SLO, SLOResult, evaluate
from perflab.load.stats import LoadStats

REPORT_INTERVAL_S = 1.0  # Locust workers report every 3 s by default; the live view wants 1 s
ABORT_CHECK_EVERY_S = 5.0
# Requests are folded into the statistics in batches: in Locust's hot path the listener only
# appends a tuple (benchmarks/generator.py: one call per request into stats and samples cost
# ~3 µs more per request, in context, than the same calls in a loop over a batch).
FOLD_EVERY = 512
ABORT_GRACE_S = 10.0  # SLOs are not judged for --abort-on-fail before this much of the run
STOP_GRACE_S = 5.0  # beyond --stop-timeout, for a worker's last message to arrive
logger = logging.getLogger("perflab.run")


@dataclass
class RunConfig:
    locustfile: Path
    host: str
    users: int = 10
    spawn_rate: float = 10.0
    run_time_s: float = 60.0
    shape: str | None = None
    arrival_rate: ArrivalRate | None = None
    max_in_flight: int = 100
    user_classes: tuple[str, ...] = ()
    role: str = "local"  # local | master | worker
    workers: int = 0  # worker processes to start on this machine (role master)
    expect_workers: int = 0  # workers to wait for before starting (role master)
    master_host: str = "127.0.0.1"
    master_bind: str = "127.0.0.1"
    master_port: int = MASTER_PORT
    slos: tuple[SLO, ...] = ()
    abort_on_fail: bool = False
    stop_timeout_s: float = 10.0
    server_pid: int | None = None
    database_url: str | None = None
    out: Path | None = None
    quiet: bool = False
    label: str = ""
    store: str | None = None  # the probe's store file, if the caller knows it
    data_volume: str | None = None  # e.g. "10,000 posts", for the report

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data["locustfile"] = str(self.locustfile)
        data["out"] = str(self.out) if self.out else None
        data["arrival_rate"] = asdict(self.arrival_rate) if self.arrival_rate else None
        data["slos"] = [slo.expression for slo in self.slos]
        data["database_url"] = _redacted(self.database_url)
        data["host"] = _redacted(self.host)  # a --host with credentials is never written down
        return data


@dataclass
class RunOutcome:
    status: str  # completed | interrupted | aborted | failed
    results: dict[str, Any]
    slo_results: list[SLOResult] = field(default_factory=list)
    run_dir: Path | None = None
    message: str = ""

    @property
    def exit_code(self) -> ExitCode:
        if self.status == "failed":
            return ExitCode.FAILED
        if any(not result.passed for result in self.slo_results):
            return ExitCode.SLO_BREACHED
        if self.status == "interrupted":
            return ExitCode.INTERRUPTED
        return ExitCode.OK


class LoadRun:
    def __init__(self, config: RunConfig, console) -> None:
        self.config = config
        self.console = console
        self.stats = LoadStats(
            window_s=5.0 if config.role == "master" else 3.0,
            separate_service=config.arrival_rate is not None,  # workers learn it from the master
        )
        self.samples = RequestSamples(resolve=resolve_request_id)
        self._unfolded: list[tuple] = []  # requests seen, not yet in stats and samples
        self.tracker = ClientTracker()
        self.grouper: RouteGrouper | None = None  # from the probe's routes, when it has them
        self.grouping_reason = ""  # why requests are not named by route, when they are not
        self._split_names: dict[str, tuple] = {}  # names counted under what was served
        self.open_model: OpenModel | None = None
        self.open_snapshots: dict[str, dict] = {}
        self.user_errors: dict[str, int] = {}
        self.monitor: ResourceMonitor | None = None
        self._stop_reason: str | None = None
        self.failure = "the run failed"  # why, when the status is "failed"
        self.abort_detail = "an SLO was breached"  # which one, when "aborted"
        self.schedule_started_epoch: float | None = None  # open model: the schedule's zero
        self._worker_processes: list = []
        self._workers_stopped: dict[str, float] = {}  # master: client id -> last message, when

    # -- the run ------------------------------------------------------------------------
    def execute(self) -> RunOutcome:
        from locust import events
        from locust.env import Environment

        config = self.config
        scenario = load_scenario(config.locustfile, config.user_classes)
        shape = self._shape(scenario)
        run_dir = RunDirectory(config.out).create() if config.out else None
        if run_dir:
            run_dir.keep_inputs(scenario.path, config.describe())
            _log_to(run_dir.path / ("locust.log" if config.role != "worker" else "worker.log"))
        description, self.grouping_reason = fetch_app_description(config.host)
        self.app_facts = description.get("app", {}) if description else {}
        self.grouper = RouteGrouper(description["urlpatterns"]) if description else None
        self._split_names = self.grouper.split if self.grouper else {}
        if self.grouping_reason and config.role != "worker":  # one line, before the live view
            self._say_no_grouping()
        self.tracker.install(self.grouper)
        self.env = Environment(
            user_classes=scenario.user_classes, shape_class=shape, host=config.host,
            events=events, stop_timeout=config.stop_timeout_s, catch_exceptions=True,
        )  # fmt: skip
        self._original_user_classes = list(scenario.user_classes)
        events.request.add_listener(self._on_request)
        events.user_error.add_listener(self._on_user_error)
        if config.role == "worker":
            return self._work()
        if config.arrival_rate and config.role == "local":
            self.open_model = OpenModel(config.arrival_rate, config.max_in_flight)
            self.env.user_classes = self.open_model.wrap(self._original_user_classes)
        return self._lead(run_dir, shape)

    def _shape(self, scenario):
        from perflab.load.shapes import build_shape, shape_from_locustfile

        config = self.config
        if config.shape and config.arrival_rate:
            raise PerflabError("--shape and --arrival-rate exclude each other (one load model)")
        if config.shape:
            return build_shape(config.shape, config.users, config.spawn_rate, config.run_time_s)
        if scenario.shapes and not config.arrival_rate and config.role != "worker":
            return shape_from_locustfile(scenario.shapes, config.run_time_s)
        return None

    def _lead(self, run_dir: RunDirectory | None, shape) -> RunOutcome:
        """Local or master: start the load, watch it each second, stop it, write the results."""
        import locust.runners

        config = self.config
        if config.role == "master":
            from perflab.load.distributed import WORKER_STOPPED_MESSAGE

            locust.runners.WORKER_REPORT_INTERVAL = REPORT_INTERVAL_S
            self.runner = self.env.create_master_runner(config.master_bind, config.master_port)
            self.env.events.worker_report.add_listener(self._on_worker_report)
            self.runner.register_message(WORKER_STOPPED_MESSAGE, self._on_worker_stopped)
            self._start_local_workers(run_dir)
            try:
                self._await_workers()
            except BaseException:  # the run never starts: no worker is left waiting for it
                self._end_local_workers()
                raise
        else:
            self.runner = self.env.create_local_runner()
        self._start_monitor()
        for signum in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(signum, self._interrupt)
        self.started = time.time()
        status = "completed"
        try:
            self._start_load(shape)
            with LiveView(self.console, quiet=config.quiet) as view:
                status = self._watch(view, shape)
        finally:
            self.ended = self._stop_load()
        return self._finish(status, run_dir, shape)

    def _start_load(self, shape) -> None:
        config = self.config
        if shape is not None:
            self.runner.start_shape()
        elif config.arrival_rate:
            if self.open_model is not None:  # the schedule's time zero: every user is ready
                self.env.events.spawning_complete.add_listener(self._start_schedule)
            else:  # master: every worker gets its share of the schedule
                self._send_open_model()
            self.runner.start(config.max_in_flight, spawn_rate=max(config.max_in_flight, 1))
        else:
            self.runner.start(config.users, spawn_rate=config.spawn_rate)

    def _start_schedule(self, user_count: int, **_kwargs) -> None:
        if not self.open_model.has_started:
            self.open_model.start()
            self.schedule_started_epoch = time.time()

    def _watch(self, view: LiveView, shape) -> str:
        from locust.runners import STATE_STOPPED

        deadline = self.started + self.config.run_time_s
        next_abort_check = self.started + ABORT_GRACE_S
        while True:
            now = time.time()
            gevent.sleep(max(0.0, 1.0 - (now - self.started) % 1.0))
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
            if shape is not None and self.runner.state == STATE_STOPPED:
                return "completed"  # the shape said the test is over
            if self.config.role == "master" and not self.runner.clients.all:
                self.failure = "every worker disconnected"
                return "failed"
            if self.config.abort_on_fail and now >= next_abort_check:
                next_abort_check = now + ABORT_CHECK_EVERY_S
                if self._breached_ceilings(now):
                    return "aborted"

    def _stop_load(self) -> float:
        """Stop the users; return when they had stopped, the run's end (workers leaving and
        processes exiting after that are not run time)."""
        from perflab.load.distributed import stop_workers

        if self.open_model is not None:
            self.open_model.stop()
        try:
            if self.config.role == "master":
                timeout_s = self.config.stop_timeout_s + STOP_GRACE_S
                stopped_at = stop_workers(
                    self.runner, self._workers_stopped, timeout_s, self._worker_processes
                )
            else:
                self.runner.stop()
                stopped_at = time.time()
            self.runner.quit()
        finally:
            for process in self._worker_processes:
                try:
                    process.wait(timeout=15)
                except Exception:
                    process.kill()
            if self.monitor is not None:
                self._monitor_done = True
        return stopped_at

    # -- what each request tells us ------------------------------------------------------
    def _on_request(
        self, request_type, name, response_time, response_length=0, exception=None,
        response=None, **_kwargs,
    ) -> None:  # fmt: skip
        """Locust's hot path: note the request, fold it into the statistics later."""
        model = self.open_model
        service = float(response_time or 0.0)
        latency = service + model.take_lateness_ms() if model is not None else service
        # FastHttpUser: the request head; its id is parsed only if the sample keeps the row
        ref = getattr(response, "_sent_request", None)
        if ref.__class__ is not str or ID_LINE not in ref:
            ref = request_id_of(response)
        if name in self._split_names:  # a route named by what it served (Wagtail's pages)
            name = self.grouper.served_name(name, response)
        unfolded = self._unfolded
        unfolded.append((
            ref, request_type, name, time.time(), latency, service,
            None if exception is None else _error_text(exception),
        ))  # fmt: skip
        if len(unfolded) >= FOLD_EVERY:
            self.fold()

    def fold(self) -> None:
        """Bring stats and samples up to date with every request seen so far."""
        unfolded = self._unfolded
        if unfolded:
            self._unfolded = []
            self.stats.record_many(unfolded)
            self.samples.add_many(unfolded)

    def _on_user_error(self, user_instance, exception, tb, **_kwargs) -> None:
        key = _error_text(exception)
        if key in self.user_errors or len(self.user_errors) < 50:
            self.user_errors[key] = self.user_errors.get(key, 0) + 1

    def _gauges(self, now: float) -> None:
        source = "master" if self.config.role == "master" else "local"
        self.stats.set_gauge("users", self.runner.user_count, now, source=source)
        if self.config.role != "master":
            self.stats.set_gauge("in_flight", self.tracker.in_flight, now)
        for key, value in self._open_totals(now).items():
            if key in ("rate", "late", "dropped"):
                self.stats.set_gauge("arrival_rate" if key == "rate" else key, value, now, source)

    def _open_totals(self, now: float) -> dict[str, float]:
        snapshots = list(self.open_snapshots.values())
        if self.open_model is not None:
            snapshots.append(self.open_model.snapshot())  # its own (monotonic) clock
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

    def _open_model_results(self) -> dict[str, Any] | None:
        totals = self._open_totals(self.ended)
        if not totals:
            return None
        rate = self.config.arrival_rate
        return {
            **totals,
            "target": str(rate),
            "max_in_flight": self.config.max_in_flight,
            "schedule_started_epoch": self.schedule_started_epoch,
        }

    def snapshot(self, now: float) -> dict[str, Any]:
        """What the live view shows: this second's rate, the run's percentiles so far."""
        total = self.stats.total()
        latest = self.stats.latest_second(now)
        open_totals = self._open_totals(now)
        return {
            "elapsed_s": now - self.started,
            "duration_s": self.config.run_time_s,
            "users": self.runner.user_count,
            "arrival_rate": open_totals.get("rate") if self.config.arrival_rate else None,
            "rps": latest.requests if latest else 0,
            "p50": total["latency"]["p50"] if total["requests"] else None,
            "p95": total["latency"]["p95"] if total["requests"] else None,
            "p99": total["latency"]["p99"] if total["requests"] else None,
            "requests": total["requests"],
            "failures": total["failures"],
            "error_rate": total["error_rate"],
            "in_flight": int(latest.gauges.get("in_flight", 0)) if latest else 0,
            "late": int(open_totals.get("late", 0)),
            "dropped": int(open_totals.get("dropped", 0)),
        }

    def _breached_ceilings(self, now: float) -> bool:
        ceilings = [slo for slo in self.config.slos if slo.is_ceiling]
        if not ceilings:
            return False
        results = evaluate(ceilings, self._figures(now - self.started))
        breached = [r for r in results if not r.passed and r.actual is not None]
        if breached:
            self.abort_detail = breached[0].detail
        return bool(breached)

    # -- distributed ----------------------------------------------------------------------
    def _start_local_workers(self, run_dir: RunDirectory | None) -> None:
        from perflab.load.distributed import start_local_workers

        self._worker_processes = start_local_workers(self.config, run_dir)

    def _end_local_workers(self) -> None:
        for process in self._worker_processes:
            process.terminate()
        for process in self._worker_processes:
            try:
                process.wait(timeout=5)
            except Exception:
                process.kill()

    def _await_workers(self) -> None:
        from perflab.load.distributed import await_workers

        await_workers(self.runner, self.config, self._worker_processes)

    def _send_open_model(self) -> None:
        from perflab.load.distributed import send_open_model

        send_open_model(self.runner, self.config)

    def _on_worker_report(self, client_id: str, data: dict) -> None:
        report = data.get("perflab")
        if not report:
            return
        self.stats.merge(report["stats"], source=client_id)
        self.samples.merge(report["samples"])
        if report.get("open") is not None:
            self.open_snapshots[client_id] = report["open"]

    def _on_worker_stopped(self, environment, msg, **_kwargs) -> None:
        """A worker's users stopped: its last figures, and when (this clock) the load ended."""
        self._on_worker_report(msg.node_id, {"perflab": msg.data})
        self._workers_stopped[msg.node_id] = time.time()

    def _work(self) -> RunOutcome:
        from perflab.load.distributed import serve_as_worker

        serve_as_worker(self)
        return RunOutcome(status="completed", results={})

    # -- the end --------------------------------------------------------------------------
    def _start_monitor(self) -> None:
        from urllib.parse import urlsplit

        from rich.markup import escape

        config = self.config
        parts = urlsplit(config.host)
        self.monitor = ResourceMonitor.for_target(
            parts.hostname, parts.port or 80, config.server_pid, config.database_url
        )
        for warning in self.monitor.warnings:  # no server found: say so now, not in the JSON only
            self.console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        self._monitor_done = False
        gevent.spawn(self.monitor.run, lambda: self._monitor_done)

    def _say_no_grouping(self) -> None:
        from rich.markup import escape

        self.console.print(
            f"[yellow]no route grouping:[/] {escape(self.grouping_reason)}; "
            "endpoints keep Locust's names",
            highlight=False,
        )

    def _interrupt(self) -> None:
        self._stop_reason = "interrupted"

    def _figures(self, duration_s: float) -> dict[str, Any]:
        duration = max(duration_s, 1e-9)
        total = self.stats.total()
        total["rps"] = total["requests"] / duration
        endpoints = [{**e, "rps": e["requests"] / duration} for e in self.stats.endpoints()]
        return {"duration_s": duration_s, "totals": total, "endpoints": endpoints}

    def _finish(self, status: str, run_dir: RunDirectory | None, shape) -> RunOutcome:
        import locust

        self.fold()
        self.stats.close_all()
        config = self.config
        duration = self.ended - self.started
        figures = self._figures(duration)
        message = ""
        if status == "failed":
            message = self.failure
        elif figures["totals"]["requests"] == 0:
            status, message = "failed", _nothing_measured(self.user_errors)
        slo_results = evaluate(list(config.slos), figures) if config.slos else []
        sample_rows = self.samples.rows()  # sorted once: counted here, written below
        if status == "aborted":
            message = f"aborted early: {self.abort_detail}"
        results = {
            "schema": SCHEMA,
            "status": status,
            "message": message,
            "label": config.label,
            "started_at": _iso(self.started),
            "ended_at": _iso(self.ended),
            **figures,
            "model": "open" if config.arrival_rate else "closed",
            "shape": shape.describe() if hasattr(shape, "describe") else None,
            "open_model": self._open_model_results(),
            "grouping": "routes" if self.grouper else "locust names",
            "grouping_reason": self.grouping_reason or None,  # why not by route
            "probe_store": config.store,
            "slos": [result.as_dict() for result in slo_results],
            "verdict": _verdict(slo_results),
            "distribution": self.stats.distribution(),
            "series": [_row(row) for row in self.stats.series],
            "user_errors": [
                {"message": m, "count": c}
                for m, c in sorted(self.user_errors.items(), key=lambda item: -item[1])
            ],
            "samples": {"kept": len(sample_rows), "seen": self.samples.seen},
            "monitor": {
                "server_pid": self.monitor.server_pid if self.monitor else None,
                "warnings": list(self.monitor.warnings) if self.monitor else [],
            },
            "environment": {
                "perflab": __version__,
                "locust": locust.__version__,
                "python": platform.python_version(),
                "platform": platform.platform(),
                "hostname": socket.gethostname(),
                "cpus": os.cpu_count(),
                "target": _redacted(config.host),  # no userinfo from --host
                "workers": config.workers or config.expect_workers,
                "user_classes": [cls.__name__ for cls in self._original_user_classes],
                **{key: self.app_facts.get(key) for key in ("django", "debug", "database")},
                "app_python": self.app_facts.get("python"),
                "data_volume": config.data_volume,
            },
            "settings": config.describe(),
        }
        if run_dir is not None:
            run_dir.write(
                results, self.stats.histograms(), results["series"],
                self.monitor.samples if self.monitor else [], sample_rows, FIELDS,
            )  # fmt: skip
        return RunOutcome(status, results, slo_results, run_dir.path if run_dir else None, message)


def _row(row) -> dict[str, Any]:
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


_URL_IN_TEXT = re.compile(r"\bhttps?://[^\s'\"<>]+")


def _error_text(exception: BaseException) -> str:
    """One line for requests.csv and results.json; a URL in it (requests' "… for url: …")
    has its credentials and secret query values masked."""
    text = str(exception) or type(exception).__name__
    if not text.startswith(type(exception).__name__):
        text = f"{type(exception).__name__}: {text}"
    return _URL_IN_TEXT.sub(lambda m: _redacted(m.group()), text.splitlines()[0])[:300]


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def _redacted(url: str | None) -> str | None:
    if not url:
        return None
    from perflab.probe.masking import redact_url

    return redact_url(url)


def _log_to(path: Path) -> None:
    """Locust's own log lines go to the run directory, not over the live view."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
