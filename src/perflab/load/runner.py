"""``perflab run``: a locustfile run headless by Locust, measured by perflab.

Locust spawns the users and sends the requests; perflab listens to every request event and
keeps its own statistics (exact HDR percentiles, per-second series, a sample of request ids
for the server-side join). ``LoadRun`` is what every process of a run does, whatever its
role: load the locustfile, name requests by route, build Locust's ``Environment``, and fold
each request into its statistics and samples. The roles are its subclasses, as Locust has
``LocalRunner``, ``MasterRunner`` and ``WorkerRunner``: ``LocalRun`` and ``MasterRun`` lead a
run (``perflab.load.leading``), ``WorkerRun`` sends what it measured to its master;
``perflab.load.roles.run_for`` builds the one a ``RunConfig`` asks for.
This module must run in a gevent-patched process (the ``perflab run`` command patches first).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from argparse import Namespace
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from perflab.errors import ExitCode, PerflabError
from perflab.load.arrival import ArrivalRate, OpenModel
from perflab.load.client import ID_LINE, ClientTracker, request_id_of, resolve_request_id
from perflab.load.distributed import MASTER_PORT
from perflab.load.grouping import RouteGrouper, fetch_app_description
from perflab.load.registry import new_run_id
from perflab.load.results import RunDirectory, RunResults
from perflab.load.samples import RequestSamples
from perflab.load.scenario import Scenario, load_scenario
from perflab.load.slo import SLO, SLOResult
from perflab.load.stats import LoadStats

# Requests are folded into the statistics in batches: in Locust's hot path the listener only
# appends a tuple, and the batch's work costs a third of the same calls made per request.
FOLD_EVERY = 512
logger = logging.getLogger("perflab.run")


@dataclass
class RunConfig:
    locustfile: Path
    host: str | None  # None only for a worker, which takes its master's
    users: int = 10
    spawn_rate: float = 10.0
    run_time_s: float | None = 60.0  # None: until stopped (Locust without -t), 7 days at most
    shape: str | None = None
    arrival_rate: ArrivalRate | None = None
    max_in_flight: int = 100
    user_classes: tuple[str, ...] = ()
    role: str = "local"  # local | master | worker: which LoadRun subclass runs it
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
    iterations: int | None = None  # -i: task iterations in all, then the run ends
    web: bool = False  # Locust's web UI starts and stops the load; each test a run directory

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data["locustfile"] = str(self.locustfile)
        data["out"] = str(self.out) if self.out else None
        data["arrival_rate"] = asdict(self.arrival_rate) if self.arrival_rate else None
        data["slos"] = [slo.expression for slo in self.slos]
        data["database_url"] = redacted(self.database_url)
        data["host"] = redacted(self.host)  # a --host with credentials is never written down
        return data


@dataclass
class RunOutcome:
    status: str  # completed | interrupted | aborted | failed
    results: RunResults | None  # None for a worker: its master writes the results
    slo_results: list[SLOResult] = field(default_factory=list)
    run_dir: Path | None = None
    message: str = ""
    locust_exit_code: int | None = None  # Locust's own rule, when it decides (see exit_code)

    @property
    def exit_code(self) -> int:
        """perflab's verdict (the run failed, an SLO was breached, interrupted), unless Locust
        decides: a locustfile's ``environment.process_exit_code``, or, when no SLO judges
        the run, Locust's ``--exit-code-on-error`` for failed requests."""
        if self.locust_exit_code is not None:
            return self.locust_exit_code
        if self.status == "failed":
            return ExitCode.FAILED
        if any(not result.passed for result in self.slo_results):
            return ExitCode.SLO_BREACHED
        if self.status == "interrupted":
            return ExitCode.INTERRUPTED
        return ExitCode.OK


class LoadRun:
    """One process's part of a run: the statistics, samples and folding every role shares.

    A subclass says what the process does with them (``_run``); ``measured`` and
    ``add_measured`` are the two ends of the wire a worker's figures travel on.
    """

    log_name = "locust.log"  # Locust's own log lines, in the run directory
    stats_window_s = 3.0  # seconds stay open this long for late requests before they close

    def __init__(
        self, config: RunConfig, console: Console, scenario: Scenario | None = None,
        parsed_options: Namespace | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.console = console
        self.scenario = scenario  # loaded while the command line was read, or by execute
        self.parsed_options = parsed_options  # Locust's, for the locustfile's listeners
        self._forget_figures(separate_service=config.arrival_rate is not None)
        self.tracker = ClientTracker()
        self.run_id = new_run_id()  # a worker takes its master's (``perflab_run_id``)
        self.grouper: RouteGrouper | None = None  # from the probe's routes, when it has them
        self.grouping_reason = ""  # why requests are not named by route, when they are not
        self.app_facts: dict[str, Any] = {}  # the app's versions, from the probe
        self._split_names: dict[str, tuple] = {}  # names counted under what was served
        self.open_model: OpenModel | None = None  # this process's arrivals (open model)
        self.user_classes: list[type] = []  # as the locustfile declares them

    def _forget_figures(self, separate_service: bool) -> None:
        """Statistics, samples and task errors start empty (a run; a test of the web UI)."""
        self.stats = self._new_stats(separate_service)
        self.samples = RequestSamples(resolve=resolve_request_id)
        self._unfolded: list[tuple] = []  # requests seen, not yet in stats and samples
        self.user_errors: dict[str, int] = {}

    def _new_stats(self, separate_service: bool) -> LoadStats:
        return LoadStats(window_s=self.stats_window_s, separate_service=separate_service)

    def _measure_service_apart(self) -> None:
        """Latency and service time differ from now on (a worker learns of the open model
        from its master, before any of its users start)."""
        self.stats = self._new_stats(separate_service=True)

    def execute(self) -> RunOutcome:
        """Prepare what every role needs, then run this role's part."""
        from locust import events
        from locust.env import Environment

        config = self.config
        scenario = self.scenario or load_scenario(config.locustfile, config.user_classes)
        shape = self._shape(scenario)
        run_dir = RunDirectory(config.out).create() if config.out else None
        if run_dir:
            run_dir.keep_inputs(scenario.path, config.describe())
        self._set_up_logging(run_dir)
        if config.host:  # a worker may learn it from its master's first spawn message
            self._learn_routes(config.host)
        else:
            self.tracker.install(None)
        options = self.parsed_options
        self.env = Environment(
            user_classes=scenario.user_classes, shape_class=shape, host=config.host,
            events=events, stop_timeout=config.stop_timeout_s, catch_exceptions=True,
            reset_stats=bool(options and options.reset_stats), parsed_options=options,
            locustfile=scenario.path.name, parsed_locustfiles=[str(p) for p in scenario.paths],
            available_user_classes=scenario.available,
            available_shape_classes={type(s).__name__: s for s in scenario.shapes},
            available_user_tasks=scenario.tasks, profile=options.profile if options else None,
        )  # fmt: skip
        self._apply_user_options()
        self.user_classes = list(self.env.user_classes)
        events.request.add_listener(self._on_request)
        events.user_error.add_listener(self._on_user_error)
        return self._run(run_dir, shape)

    def _learn_routes(self, host: str) -> None:
        """Requests named by the app's routes, when the target runs the probe."""
        description, self.grouping_reason = fetch_app_description(host)
        self.app_facts = description.get("app", {}) if description else {}
        self.grouper = RouteGrouper(description["urlpatterns"]) if description else None
        self._split_names = self.grouper.split if self.grouper else {}
        self.tracker.install(self.grouper)

    def _set_up_logging(self, run_dir: RunDirectory | None) -> None:
        """Locust's log lines: into the run directory (the terminal has the live view), and
        where ``--logfile`` says, at ``-L``'s level; on the terminal when the web UI runs, as
        ``locust`` does. ``--skip-log-setup`` leaves logging to the locustfile."""
        options = self.parsed_options
        if options is not None and options.skip_log_setup:
            return
        level = options.loglevel.upper() if options is not None else "INFO"  # Locust's choices
        logfile = options.logfile if options is not None else None
        paths = [run_dir.path / self.log_name] if run_dir else []
        if self.config.web:
            from locust.log import setup_logging

            setup_logging(level, logfile)
        elif logfile:
            paths.append(Path(logfile))
        _log_to(paths, level, keep=self.config.web)
        if not self.config.web:
            # A worker prints every line, as `locust --worker` does (a local worker's output
            # is its worker-N.log); a leading run its warnings and errors, above the live view.
            terminal = logging.getLevelName(level)
            if self.config.role != "worker":
                terminal = max(terminal, logging.WARNING)
            _log_to_terminal(terminal)

    def _apply_user_options(self) -> None:
        """Locust's --config-users and --equal-weights, as ``locust`` applies them."""
        import itertools

        options = self.parsed_options
        if options is None:
            return
        try:
            for user_config in itertools.chain(*(options.config_users or [])):
                self.env.update_user_class(user_config)
        except KeyError as exc:
            raise PerflabError(f"--config-users: no user class {exc} in the locustfile") from None
        if options.equal_weights:
            self.env.assign_equal_weights()

    def _fire_init(self, web_ui=None) -> None:
        """Locust's ``init`` event: the runner exists, no user has started (custom messages
        are registered here). A listener that raises fails the run, as it stops ``locust``."""
        from locust import log

        log.unhandled_greenlet_exception = False
        self.env.events.init.fire(environment=self.env, runner=self.env.runner, web_ui=web_ui)
        if log.unhandled_greenlet_exception:
            raise PerflabError(
                "an init event listener of the locustfile raised (see the log)", ExitCode.FAILED
            )

    def _fire_quitting(self) -> None:
        """Locust's ``quitting`` (listeners in reverse order), after the users stopped:
        listeners read ``environment.stats`` and may set ``process_exit_code``."""
        self.env.events.quitting.fire(environment=self.env, reverse=True)

    def _run(self, run_dir: RunDirectory | None, shape) -> RunOutcome:
        raise NotImplementedError

    def _shape(self, scenario):
        from perflab.load.shapes import build_shape

        config = self.config
        if config.shape and config.arrival_rate:
            raise PerflabError("--shape and --arrival-rate exclude each other (one load model)")
        if config.shape:
            return build_shape(config.shape, config.users, config.spawn_rate, config.run_time_s)
        return self._locustfile_shape(scenario)

    def _locustfile_shape(self, scenario):
        """A LoadTestShape the locustfile declares, when this role drives the shape."""
        return None

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
        self._count_user_error(_error_text(exception))

    def _count_user_error(self, key: str, count: int = 1) -> None:
        if key in self.user_errors or len(self.user_errors) < 50:
            self.user_errors[key] = self.user_errors.get(key, 0) + count

    # -- between processes ---------------------------------------------------------------
    def measured(self) -> dict[str, Any]:
        """Everything measured since the last call, as a worker sends it (msgpack-able);
        then forgotten here."""
        now = time.time()
        self.fold()
        self.stats.set_gauge("in_flight", self.tracker.in_flight, now)
        model = self.open_model
        user_errors, self.user_errors = self.user_errors, {}
        return {
            "stats": self.stats.drain(),
            "samples": self.samples.drain(),
            "open": model.snapshot() if model is not None else None,  # its own clock
            "user_errors": user_errors,  # the exceptions its tasks raised
        }

    def add_measured(self, source: str, measured: dict[str, Any]) -> dict | None:
        """Another process's ``measured()`` added to this one's figures; returns its open
        model snapshot (None in the closed model)."""
        self.stats.merge(measured["stats"], source=source)
        self.samples.merge(measured["samples"])
        for key, count in measured.get("user_errors", {}).items():
            self._count_user_error(key, count)
        return measured.get("open")


_URL_IN_TEXT = re.compile(r"\bhttps?://[^\s'\"<>]+")


def _error_text(exception: BaseException) -> str:
    """One line for requests.csv and results.json; a URL in it (requests' "… for url: …")
    has its credentials and secret query values masked."""
    text = str(exception) or type(exception).__name__
    if not text.startswith(type(exception).__name__):
        text = f"{type(exception).__name__}: {text}"
    return _URL_IN_TEXT.sub(lambda m: redacted(m.group()), text.splitlines()[0])[:300]


def redacted(url: str | None) -> str | None:
    if not url:
        return None
    from perflab.probe.masking import redact_url

    return redact_url(url)


class _TerminalLog(logging.Handler):
    """Writes to ``sys.stderr`` as it is at each line: under the live view, which redirects
    it, a line prints above the table instead of through it. A task's exception is printed
    with its traceback the first time only: the end of the run counts them ("task error
    x159"), and the run directory's log keeps every one."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self._task_errors_seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "locust.user.task":
            message = record.getMessage()
            if message in self._task_errors_seen or len(self._task_errors_seen) >= 50:
                return
            self._task_errors_seen.add(message)
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def _log_to_terminal(level: int) -> None:
    handler = _TerminalLog(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def _log_to(paths: list[Path], level: str, keep: bool = False) -> None:
    """Log lines go to these files (and, with ``keep``, where they went already)."""
    root = logging.getLogger()
    if not keep:
        root.handlers[:] = []
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # as Locust makes --logfile's
            handler = logging.FileHandler(path)
        except OSError as exc:
            raise PerflabError(f"cannot write the log file {path}: {exc.strerror}") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
