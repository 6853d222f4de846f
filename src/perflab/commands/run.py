"""`perflab run`: a locustfile run as `locust` runs it, measured by perflab (exact
percentiles, the server's side, an open model, SLOs, a run directory)."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from perflab.errors import ExitCode, PerflabError
from perflab.load.distributed import MASTER_PORT
from perflab.load.durations import MAX_RUN_TIME_S

MAX_USERS = 1_000_000  # per run; beyond this a typo is likelier than a plan
MAX_STOP_TIMEOUT_S = 3600.0
DEFAULT_MASTER_PORT = MASTER_PORT  # a local master with --workers moves to a free port


def register(subparsers: argparse._SubParsersAction) -> None:
    """Listed in ``perflab --help``; ``perflab.cli`` hands ``perflab run``'s arguments to
    ``main``, which reads them with Locust's own parser (``perflab.commands.run_options``)."""
    subparsers.add_parser(
        "run",
        add_help=False,
        help="run a locustfile as `locust` does (its options, config files, web UI), "
        "measured by perflab: exact percentiles, the server's side, SLOs",
    )


def main(argv: list[str], console: Console) -> int:
    from perflab.commands.run_options import parse_run_arguments

    parsed = parse_run_arguments(argv)
    for note in parsed.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if parsed.options.list_commands:  # Locust's --list
        console.print("Available Users:")
        for name in parsed.scenario.available:
            console.print(f"    {name}", highlight=False)
        return ExitCode.OK
    if parsed.options.show_task_ratio or parsed.options.show_task_ratio_json:
        return _task_ratio(parsed)
    options, scenario = parsed.options, parsed.scenario
    for note in [*_shape_note(options, scenario), *_run_time_note(options, scenario)]:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    return run(parsed, console)


def _run_time_note(options: argparse.Namespace, scenario) -> list[str]:
    """-t with the locustfile's LoadTestShape, headless: ignored, as ``locust`` ignores it
    (with a warning; the shape alone ends the run). A shape with ``use_common_options``
    reads -t itself, under both."""
    if not (options.run_time and _locustfile_shape_runs(options, scenario)):
        return []
    shape = scenario.shapes[0]
    if shape.use_common_options:
        return []
    return [
        f"-t {options.run_time}s is ignored: the locustfile's {type(shape).__name__} ends the "
        "run, as under locust"
    ]


def _locustfile_shape_used(options: argparse.Namespace, scenario) -> bool:
    """The locustfile's LoadTestShape drives the run: not perflab's --shape or --arrival-rate,
    and not on a worker (its master drives it)."""
    if options.worker or options.perflab_shape or options.perflab_arrival_rate:
        return False
    return bool(scenario.shapes)


def _locustfile_shape_runs(options: argparse.Namespace, scenario) -> bool:
    """A headless run the locustfile's LoadTestShape drives."""
    headless = options.headless and not options.perflab_web
    return headless and _locustfile_shape_used(options, scenario)


def _shape_note(options: argparse.Namespace, scenario) -> list[str]:
    """Several LoadTestShapes in the locustfiles: the first runs, as under ``locust``."""
    if len(scenario.shapes) < 2 or not _locustfile_shape_used(options, scenario):
        return []
    names = [type(shape).__name__ for shape in scenario.shapes]
    return [f"the locustfiles define {len(names)} load shapes ({', '.join(names)}): "
            f"{names[0]} runs, as under locust"]  # fmt: skip


def _task_ratio(parsed) -> int:
    """Locust's --show-task-ratio(-json), printed by Locust's own functions."""
    from locust.user.inspectuser import print_task_ratio, print_task_ratio_json

    classes, users = parsed.scenario.user_classes, parsed.options.num_users
    if parsed.options.show_task_ratio_json:
        print_task_ratio_json(classes, users)
    else:
        print("\n Task ratio per User class")
        print("-" * 80)
        print_task_ratio(classes, users, False)
        print("\n Total task ratio")
        print("-" * 80)
        print_task_ratio(classes, users, True)
    return ExitCode.OK


def config_from(parsed):
    """Every check that needs no load, so bad usage fails in a blink with one line."""
    from perflab.load.arrival import ArrivalRate
    from perflab.load.runner import RunConfig
    from perflab.load.slo import parse_slo

    options, scenario = parsed.options, parsed.scenario
    workers = options.perflab_workers or _processes(options.processes)
    if sum([options.master, options.worker, workers > 0]) > 1:
        raise PerflabError("choose one of --workers N (or --processes N), --master and --worker")
    if options.num_users is not None and not 1 <= options.num_users <= MAX_USERS:
        raise PerflabError(f"-u/--users must be from 1 to {MAX_USERS:,}, got {options.num_users}")
    if options.spawn_rate is not None and options.spawn_rate > MAX_USERS:
        raise PerflabError(f"-r/--spawn-rate must be at most {MAX_USERS:,}")
    run_time = options.run_time
    if run_time is not None and not 1 <= run_time <= MAX_RUN_TIME_S:
        raise PerflabError(f"-t/--run-time must be between 1s and 7 days, got {run_time}s")
    if not 0 <= options.stop_timeout <= MAX_STOP_TIMEOUT_S:
        raise PerflabError(
            f"--stop-timeout must be from 0 to {MAX_STOP_TIMEOUT_S:g}s, got {options.stop_timeout}s"
        )
    for name in ("master_bind_port", "master_port"):
        if not 1 <= getattr(options, name) <= 65535:
            option = "--" + name.replace("_", "-")
            raise PerflabError(f"{option} must be from 1 to 65,535, got {getattr(options, name)}")
    check_server_pid(options.perflab_server_pid)
    store = Path(options.perflab_store) if options.perflab_store else None
    if store is not None:
        _check_store(store)
    slos = tuple(parse_slo(text) for text in options.perflab_slo)
    rate = ArrivalRate.parse(options.perflab_arrival_rate) if options.perflab_arrival_rate else None
    role = "worker" if options.worker else "master" if (options.master or workers) else "local"
    web = role != "worker" and (options.perflab_web or not options.headless)
    iterations = getattr(options, "perflab_iterations", None)  # None: locust-plugins counts
    if iterations and role != "local":
        raise PerflabError("-i/--iterations counts in one process: run it without workers")
    if web and (rate or options.perflab_shape or iterations):
        what = "--arrival-rate" if rate else "--shape" if options.perflab_shape else "--iterations"
        raise PerflabError(f"{what} runs headless: add --headless (the web UI starts users)")
    if web:
        _check_web_address(options)
    # A worker checks no host: Locust's spawn message sets the master's on every worker,
    # over its own -H and its user classes' host (which may be an address it cannot reach).
    host = None if role == "worker" else _host(options, scenario)
    if host is not None:
        host = _checked_host(host, options, web)
    _check_master_address(options, role, workers)
    out = Path(options.perflab_out) if options.perflab_out else None
    if out is None and role != "worker" and not web:
        from perflab.load.results import default_run_dir

        out = default_run_dir()
    return RunConfig(
        locustfile=Path(options.locustfile), host=host,
        users=1 if options.num_users is None else options.num_users,
        spawn_rate=options.spawn_rate or 1.0, shape=options.perflab_shape,
        run_time_s=None if _locustfile_shape_runs(options, scenario) else run_time,
        arrival_rate=rate, max_in_flight=options.perflab_max_in_flight,
        user_classes=tuple(options.user_classes), role=role, workers=workers,
        expect_workers=options.expect_workers if options.master else 0,
        master_host=options.master_host, master_bind=options.master_bind_host,
        master_port=options.master_bind_port if role == "master" else options.master_port,
        slos=slos, abort_on_fail=options.perflab_abort_on_fail,
        stop_timeout_s=float(options.stop_timeout), server_pid=options.perflab_server_pid,
        database_url=options.perflab_database_url, out=out, quiet=options.perflab_quiet,
        label=options.perflab_label,
        store=str(store.resolve()) if store else None, data_volume=options.perflab_data_volume,
        iterations=iterations, web=web,
    )  # fmt: skip


def _processes(processes: int | None) -> int:
    """Locust's --processes N: N worker processes here (-1: one per core)."""
    if not processes:
        return 0
    if processes == -1:
        return os.cpu_count() or 1
    if not 1 <= processes <= 256:
        raise PerflabError(f"--processes must be -1 or from 1 to 256, got {processes}")
    return processes


def _host(options, scenario) -> str | None:
    """-H/--host, or the ``host`` the user classes declare, as Locust falls back to it; None
    when no user class makes HTTP requests of its own (a plain ``User``: Locust runs it
    without a host, and so does perflab, with no target to group by or watch)."""
    from locust import FastHttpUser, HttpUser

    if options.host is not None:  # given, even empty: check_target says what is wrong
        return options.host
    hosts = sorted({cls.host for cls in scenario.user_classes if getattr(cls, "host", None)})
    if len(hosts) == 1:
        return hosts[0]
    if not hosts:
        if not any(issubclass(cls, (HttpUser, FastHttpUser)) for cls in scenario.user_classes):
            return None
        raise PerflabError(
            "no host to load: give -H/--host (or LOCUST_HOST, or host in locust.conf), or set "
            "host on the User class"
        )
    raise PerflabError(f"the user classes name several hosts ({', '.join(hosts)}): give -H")


def _checked_host(host: str, options: argparse.Namespace, web: bool) -> str:
    """The target, resolved and answering (``check_target``). One exception: users that load
    the web UI itself (Locust's examples, ``host = "http://127.0.0.1:8089"``), which answers
    only once it starts, are resolved and not connected to."""
    from perflab.load.target import check_target, is_this_machine, resolve_target

    if web:
        target = resolve_target(host)
        addresses = [address[0] for _family, address in target.addresses]
        if target.port == options.web_port and is_this_machine(addresses):
            return target.url
    return check_target(host)


def check_server_pid(pid: int | None) -> None:
    """``--server-pid`` of no process is a typo (or a server that died): watching it would
    leave the run's resource columns empty without saying why."""
    import psutil

    if pid is not None and not psutil.pid_exists(pid):
        raise PerflabError(f"--server-pid {pid}: no such process")


def _check_master_address(options: argparse.Namespace, role: str, workers: int) -> None:
    """The master's address, before any load: Locust would raise a traceback for a taken
    port or an unknown bind address, and a worker would retry an unknown master forever."""
    from perflab.load.target import resolve_addresses
    from perflab.server import ensure_port_free

    port_given = options.master_bind_port != DEFAULT_MASTER_PORT
    if role == "master" and not (workers and not port_given):
        bind = "" if options.master_bind_host == "*" else options.master_bind_host
        try:
            if bind:
                resolve_addresses(bind, options.master_bind_port)
            ensure_port_free(bind or "0.0.0.0", options.master_bind_port)
        except PerflabError as exc:
            raise PerflabError(f"--master-bind-host/--master-bind-port: {exc}") from None
    if role == "worker":
        try:
            resolve_addresses(options.master_host, options.master_port)
        except PerflabError as exc:
            raise PerflabError(f"--master-host: {exc}") from None


def _check_web_address(options: argparse.Namespace) -> None:
    """The web UI's address, before anything starts (Locust would log a traceback from its
    server's greenlet and go on without a UI)."""
    from perflab.server import ensure_port_free

    if options.web_base_path and not options.web_base_path.startswith("/"):
        raise PerflabError(f"--web-base-path must start with /, got {options.web_base_path}")
    if not 1 <= options.web_port <= 65535:
        raise PerflabError(f"--web-port must be from 1 to 65,535, got {options.web_port}")
    host = "" if options.web_host == "*" else options.web_host
    try:
        ensure_port_free(host or "0.0.0.0", options.web_port)
    except PerflabError as exc:
        raise PerflabError(f"--web-host/--web-port: {exc}") from None


def _check_store(path: Path) -> None:
    """``--store`` names the probe's existing store: a typo would otherwise cost a whole run
    before the report says "no probe store"."""
    from perflab.report.probe_store import probe_store_problem

    if path.is_dir():
        raise PerflabError(f"--store {path} is a directory, not a probe store file")
    if not path.exists():
        raise PerflabError(
            f"--store {path}: no such file (the probe creates its store when the app starts: "
            "is the app running with the probe, and is this its PERFLAB['STORE'] path?)"
        )
    problem = probe_store_problem(path)
    if problem:
        raise PerflabError(f"--store: {problem}")


def run(parsed, console: Console) -> int:
    config = config_from(parsed)
    if config.workers and config.master_port == DEFAULT_MASTER_PORT:
        from perflab.server import free_port

        config.master_port = free_port()  # several local runs must not share a port
    from perflab.load.roles import run_for

    load_run = run_for(config, console, parsed.scenario, parsed.options)
    if config.web:  # each test the browser runs: its tables and its report, as it ends
        load_run.on_test_end = functools.partial(_show_test, console=console)
        # Locust's web UI parses sys.argv again for its form's extra options.
        sys.argv = [sys.argv[0], *parsed.argv]
    outcome = load_run.execute()
    if outcome.results is None:  # a worker, or the web UI: reported as they go
        return outcome.exit_code
    print_outcome(outcome, console)
    if parsed.options.perflab_report and outcome.run_dir is not None:
        write_report(outcome.run_dir, console)
    return outcome.exit_code


def _show_test(outcome, console: Console) -> None:
    print_outcome(outcome, console)
    if outcome.run_dir is not None:
        write_report(outcome.run_dir, console)


def write_report(run_dir: Path, console: Console) -> None:
    """The report is a view of what was measured: failing to draw it never fails the run."""
    from perflab.report import build_report

    try:
        console.print(f"report: {build_report(run_dir)}")
    except Exception as exc:
        console.print(f"[yellow]report not written:[/] {escape(f'{type(exc).__name__}: {exc}')}")


def print_outcome(outcome, console: Console) -> None:
    from perflab.load.summary import endpoints_table, open_model_line, slo_table

    results = outcome.results
    if results.endpoints:
        console.print(endpoints_table(results))
    line = open_model_line(results)
    if line:
        console.print(line)
    table = slo_table(results)
    if table is not None:
        console.print(table)
    for error in results.user_errors[:3]:
        console.print(f"[yellow]task error x{error.count}:[/] " + escape(error.message))
    if outcome.message:
        console.print(f"[bold]{outcome.status}:[/] " + escape(outcome.message))
    if outcome.run_dir:
        console.print(f"run directory: {outcome.run_dir}")
