"""Locust's web UI starts and stops the tests; perflab measures each one.

``perflab run`` without ``--headless`` is ``locust`` with its web UI: the browser starts a
test, changes its users, stops it, as in Locust. Each start-stop is one perflab run — its own
statistics, a run directory with results.json and report.html, judged by the SLOs given —
and perflab's tabs (``perflab.load.web_tab``) show the current one live, with every test of the
session listed and each one's report served (``perflab.load.web_tests``). ``WebRun`` goes in
front of the role's class (``web_run_class``): the local run, or the master of workers,
whose Locust runner, statistics and ``_finish`` it uses once per test.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import gevent
import gevent.event

from perflab.errors import PerflabError
from perflab.load.leading import LeadingRun
from perflab.load.locust_outputs import LocustOutputs
from perflab.load.registry import new_run_id
from perflab.load.results import RunDirectory, default_run_dir
from perflab.load.runner import RunOutcome, redacted
from perflab.load.slo import evaluate
from perflab.load.web_tab import PerflabTab, tab_figures
from perflab.load.web_tests import WebTest


def web_run_class(role: type[LeadingRun]) -> type[LeadingRun]:
    """The role's class with Locust's web UI in charge of its tests."""
    return type(f"Web{role.__name__}", (WebRun, role), {})


class WebRun(LeadingRun):
    """Serves Locust's web UI until Ctrl-C (or ``--autoquit``); one run directory per test."""

    # What the command does with each test's outcome (its tables, the report): set by it.
    on_test_end: Callable[[RunOutcome], None] | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        options = self.parsed_options  # checked before anything is made, as locust does
        if options is not None and options.autoquit != -1 and not options.autostart:
            raise PerflabError("--autoquit is only meaningful with --autostart (as in locust)")

    def _run(self, run_dir: RunDirectory | None, shape) -> RunOutcome:
        options = self.parsed_options
        if options is not None:
            # Sent to the workers with each test: they stay for the next one.
            options.perflab_web = True
        if self.grouping_reason:
            self._say_no_grouping()
        self.base_dir = run_dir  # --out: each test in a directory of its own inside it
        self.current: RunDirectory | None = None  # the test running now
        self.finished: list[RunOutcome] = []
        self.tests: list[WebTest] = []  # the finished ones, as the tests tab lists them
        # the test started last and not yet listed: its number, directory, start; most users
        self._open_test: tuple[int, Path, float] | None = None
        self._peak_users = 0
        self._idle = gevent.event.Event()  # set while no test is open (files all written)
        self._idle.set()
        self._finishing: gevent.Greenlet | None = None
        self._shape_to_start = shape
        self.runner = self._create_runner(run_dir)
        self.outputs = LocustOutputs(self.env, options)
        try:
            self.outputs.start()
            web_ui = self._create_web_ui()
            self._fire_init(web_ui)
        except BaseException:
            self._abandon()
            raise
        events = self.env.events
        events.test_start.add_listener(self._on_test_start)
        events.test_stop.add_listener(self._on_test_stop)
        events.reset_stats.add_listener(self._on_reset_stats)
        events.spawning_complete.add_listener(self._on_spawned)
        if self.env.reset_stats:  # --reset-stats: Locust resets its figures when spawning ends
            events.spawning_complete.add_listener(self._on_reset_stats)
        PerflabTab(
            web_ui, self._tab_figures, tests=self._tests, settle=self._idle.wait,
            slos=bool(self.config.slos),
        ).install()  # fmt: skip
        web_ui.start()
        self.console.print(
            f"Locust's web UI, with perflab's tabs: {self._url()} (Ctrl-C to quit)", highlight=False
        )
        for signum in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(signum, self._interrupt)
        try:
            status = self._serve()
        finally:
            self._end(web_ui)
        self._fire_quitting()
        self.outputs.finish()
        # As a headless run decides it, over the session: a locustfile's process_exit_code;
        # without --slo, Locust's --exit-code-on-error for the last test's failed requests
        # (Locust clears its figures at each start); with --slo, any test's breach
        slo_results = [result for test in self.finished for result in test.slo_results]
        outcome = RunOutcome(
            status, None, slo_results, locust_exit_code=self._locust_exit_code("completed")
        )
        self.env.events.quit.fire(exit_code=outcome.exit_code)
        return outcome

    # -- the web UI ---------------------------------------------------------------------------
    def _create_web_ui(self):
        from locust import stats

        options = self.parsed_options
        csv_writer = self.outputs.csv_writer or stats.StatsCSV(
            self.env, stats.PERCENTILES_TO_REPORT
        )
        return self.env.create_web_ui(
            host=self._web_host(), port=options.web_port, web_base_path=options.web_base_path,
            web_login=options.web_login, tls_cert=options.tls_cert, tls_key=options.tls_key,
            stats_csv_writer=csv_writer, delayed_start=True,
            userclass_picker_is_active=options.class_picker, build_path=options.build_path,
        )  # fmt: skip

    def _web_host(self) -> str:
        host = self.parsed_options.web_host
        return "" if host == "*" else host  # Locust's "*" and "" both mean every interface

    def _url(self) -> str:
        """The UI's address, as ``locust`` prints it (``--web-host-display-name`` stands for
        it when the UI listens on every interface)."""
        options = self.parsed_options
        scheme = "https" if options.tls_cert and options.tls_key else "http"
        if not self._web_host() and getattr(options, "web_host_display_name", None):
            return options.web_host_display_name
        host = self._web_host() or "0.0.0.0"
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{options.web_port}{options.web_base_path or ''}"

    def _tab_figures(self):
        run = self.current or (self.finished[-1].run_dir if self.finished else None)
        if run is None:
            return None
        path = run.path if isinstance(run, RunDirectory) else run
        until = None if self.current is not None else self.ended
        return tab_figures(self.stats, path, self.config.store, self.started, until)

    def _tests(self) -> list[WebTest]:
        """Every test of the session: the finished ones, then the open one's figures so far."""
        if self._open_test is None:
            return list(self.tests)
        number, run_dir, started = self._open_test
        now = time.time()
        totals, endpoints = self._figures(now - self.started)
        slos = evaluate(list(self.config.slos), totals, endpoints) if self.config.slos else None
        runner = self.runner
        if self.current is None:
            status = "stopped, writing its files"
        else:
            status = f"{runner.state}, {runner.user_count} users"
        users = max(self._peak_users, runner.user_count if self.current is not None else 0)
        live = WebTest.measuring(number, run_dir, started, users, totals, slos, status)
        return [*self.tests, live]

    # -- the process --------------------------------------------------------------------------
    def _serve(self) -> str:
        """Each second: the current test's figures; the end when asked (Ctrl-C, --autoquit)."""
        options = self.parsed_options
        autostarted = autostopped = False
        quit_at: float | None = None
        while True:
            self._woken.wait(1.0 - time.time() % 1.0)
            now = time.time()
            if self._stop_reason:
                return self._stop_reason
            if self.current is not None:
                self._peak_users = max(self._peak_users, self.runner.user_count)
                self.fold()
                self._gauges(now)
                self.stats.close_seconds(now)
            if options.autostart and not autostarted:
                autostarted = True
                self._await_ready()
                self._start_load(self._shape_to_start)
            run_time = self.config.run_time_s
            running_s = now - self.started if self.current is not None else 0.0
            if autostarted and not autostopped and run_time and running_s >= run_time:
                autostopped = True
                self.runner.stop()
            # Locust's --autoquit counts from the end of the autostarted test's -t or shape:
            # without either the UI stays, as under locust
            ends_itself = bool(run_time) or self.env.shape_class is not None
            if autostarted and options.autoquit >= 0 and ends_itself and self.finished:
                quit_at = quit_at or now + options.autoquit
            if quit_at is not None and now >= quit_at:
                return "completed"

    def _end(self, web_ui) -> None:
        """A test still running is stopped and written, then the runner and the UI end."""
        if self.current is not None:
            self.runner.stop()
        if self._finishing is not None:
            self._finishing.join(timeout=self.config.stop_timeout_s + 15)
        self.runner.quit()
        web_ui.stop()
        self._release()

    # -- one test -----------------------------------------------------------------------------
    def _on_test_start(self, **_kwargs) -> None:
        """A test starts (Locust fires this once per start, not on a change of users)."""
        if self._finishing is not None:
            self._finishing.join()  # the last test's files first
        self._forget_figures(separate_service=False)
        self._begin_test()
        self._follow_the_form()
        run_dir = RunDirectory(self._next_run_dir()).create()
        run_dir.keep_inputs(self.scenario.path if self.scenario else self.config.locustfile,
                            self.config.describe())  # fmt: skip
        self.current = run_dir
        self.started = time.time()
        self._idle.clear()
        self._open_test = (len(self.finished) + 1, run_dir.path, self.started)
        self._peak_users = 0
        self.run_id = new_run_id()  # each test is a run of its own
        self._open_run(run_dir.path)
        self._start_monitor()
        self.console.print(f"test {len(self.finished) + 1} started: {run_dir.path}")

    def _follow_the_form(self) -> None:
        """What Locust's form changed for this test: the host (the UI's Host field) and the
        user classes (``--class-picker``). The run's target, its route names, the server
        watched and results.json follow; a worker keeps the routes it learned first."""
        self.user_classes = list(self.env.user_classes)
        host = self.env.host
        if not host or host == self.config.host:
            return
        self.console.print(
            f"host changed in the form: {redacted(host)} (was {redacted(self.config.host)})",
            highlight=False,
        )
        self.config.host = host
        self.registry.host = redacted(host) or ""
        if self.config.role == "master":
            self.console.print(
                "[yellow]the workers keep naming requests by the first host's routes[/]",
                highlight=False,
            )
            return
        self._learn_routes(host)
        if self.grouping_reason:
            self._say_no_grouping()

    def _on_reset_stats(self, **_kwargs) -> None:
        """Locust's Reset button (and ``--reset-stats`` once spawning completes): perflab's
        figures of the test restart with Locust's."""
        if self.current is not None:
            self._reset_figures()

    def _on_spawned(self, user_count: int = 0, **_kwargs) -> None:
        """Each ramp's end (the start, each Edit): the test's most users, however short the
        time it held them (the second's sample could miss it)."""
        if self.current is not None:
            self._peak_users = max(self._peak_users, user_count)

    def _on_test_stop(self, **_kwargs) -> None:
        if self.current is not None and self._finishing is None:
            self._finishing = gevent.spawn(self._finish_test)

    def _finish_test(self) -> None:
        """The test's last figures (a master waits for its workers'), then its files."""
        try:
            self.ended = self._await_last_figures()
            self._monitor_done = True
            run_dir, self.current = self.current, None
            outcome = self._finish("completed", run_dir, _TestShape.of(self.env.shape_class))
            self.finished.append(outcome)
            self._say_finished(outcome)
            number, _path, started = self._open_test
            self.tests.append(WebTest.finished(number, started, self._peak_users, outcome))
        finally:
            self._open_test = None
            self._finishing = None
            self._idle.set()

    def _say_finished(self, outcome: RunOutcome) -> None:
        if self.on_test_end is not None:
            self.on_test_end(outcome)
        self.console.print(f"test {len(self.finished)} ended: {outcome.status}")

    def _next_run_dir(self) -> Path:
        if self.base_dir is None:
            return default_run_dir()
        return self.base_dir.path / f"test-{len(self.finished) + 1:02d}"


class _TestShape:
    """The LoadTestShape a test ran, as results.json names it: perflab's own description when
    it has one (the locustfile's shape, bounded by -t), else its class (picked in the form
    with ``--class-picker``)."""

    def __init__(self, shape) -> None:
        self.shape = shape

    @classmethod
    def of(cls, shape) -> _TestShape | None:
        return None if shape is None else cls(shape)

    def describe(self) -> str:
        if hasattr(self.shape, "describe"):
            return self.shape.describe()
        return f"{type(self.shape).__name__} from the locustfile, picked in the web UI's form"
