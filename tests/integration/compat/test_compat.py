"""`perflab run` as a drop-in for `locust --headless`.

Each locustfile in locustfiles/ uses one Locust feature. Each case runs it under plain Locust
(`python -m locust --headless …`) and under `perflab run --headless … --quiet --out DIR` with
the same arguments, at the same time, each in its own working directory (config files and
the files the locustfiles write do not leak between them), against a small HTTP server on
127.0.0.1. Both get `--csv` and `--html`. A case asserts first that plain Locust does what
the case expects (so the case itself is right), then that `perflab run` behaves the same —
exit code, request names and methods, what the locustfile recorded, Locust's CSV and HTML
files read by the same reader — and then perflab's own statistics on top (results.json).
Every difference in one case is reported together, so one failure shows all of it.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from perflab.server import free_port
from tests.integration.compat import locust_reports as reports

pytestmark = pytest.mark.integration

LOCUSTFILES = Path(__file__).with_name("locustfiles")
CSV_PREFIX = "csv/run"
# In a directory Locust makes, with Locust's {u} (users) placeholder in the name.
HTML_DIR = "html"
HTML_FILE = f"{HTML_DIR}/report-{{u}}-users.html"
RUN_DIR = "perflab-run"
TIMEOUT_S = 60.0
# The arguments most cases share: two users started at once, two seconds of load.
SHORT_RUN = ("-u", "2", "-r", "10", "-t", "2s")


def locustfile(name: str) -> str:
    return str(LOCUSTFILES / name)


@dataclass(frozen=True)
class Case:
    """One way of running a locustfile; "{target}" in args, env and files is the server's URL."""

    args: tuple[str, ...]  # for both commands
    locust_args: tuple[str, ...] = ()  # plain Locust only
    perflab_args: tuple[str, ...] = ()  # perflab run only
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # written in both working directories
    workers: int = 0  # distributed over N workers, as `distribution` says
    # "workers": locust --master and N `locust --worker`; perflab run --workers N.
    # "master": a --master and N --worker processes of each tool's own.
    # "processes": --processes N on both.
    distribution: str = "workers"
    signal: tuple[int, float] | None = None  # (signal, after seconds) to both commands


@dataclass
class Run:
    tool: str
    command: list[str]
    cwd: Path
    returncode: int
    elapsed_s: float
    output: str
    workers: list[Run] = field(default_factory=list)  # worker processes started beside it

    def describe(self) -> str:
        return (
            f"{self.tool}: {shlex.join(self.command)}\n(in {self.cwd}) exit {self.returncode} "
            f"after {self.elapsed_s:.1f} s; last output:\n{self.output[-2500:]}"
        )

    @property
    def csv_prefix(self) -> Path:
        return self.cwd / CSV_PREFIX

    @property
    def html_file(self) -> Path:
        """The --html report (its name as Locust fills in the placeholder)."""
        reports_written = self.html_files()
        return reports_written[0] if reports_written else self.cwd / HTML_FILE

    def html_files(self) -> list[Path]:
        return sorted((self.cwd / HTML_DIR).glob("*.html"))

    def stats_csv(self) -> reports.CsvTable:
        return reports.stats_csv(self.csv_prefix)

    def csv_request_names(self) -> set[tuple[str, str]]:
        return reports.csv_request_names(self.stats_csv())

    def html_request_names(self) -> set[tuple[str, str]]:
        return reports.html_request_names(reports.html_template_args(self.html_file))

    def html_total_requests(self) -> int:
        return reports.html_total_requests(reports.html_template_args(self.html_file))

    def recorded(self, name: str) -> list:
        """The JSON lines (or the one JSON document) the locustfile wrote to ``name``."""
        text = (self.cwd / name).read_text()
        if name.endswith(".jsonl"):
            return [json.loads(line) for line in text.splitlines() if line]
        return [json.loads(text)]


@dataclass
class Started:
    tool: str
    command: list[str]
    cwd: Path
    log: Path
    process: subprocess.Popen
    started: float


def _default_sigint() -> None:
    """In the child before it runs: Ctrl-C's default action. A job a shell starts in the
    background (a CI runner may) inherits SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler: plain Locust, which relies on it, would run on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(tool: str, command: list[str], cwd: Path, env: dict, log_name: str) -> Started:
    log = cwd / log_name
    with open(log, "w") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_default_sigint,
        )  # fmt: skip
    return Started(tool, command, cwd, log, process, time.monotonic())


def finish(processes: list[Started], deadline: float) -> list[Run]:
    """Wait for every process (each timed to its own exit); fail on one still running."""
    ended: dict[int, float] = {}
    while len(ended) < len(processes):
        for i, one in enumerate(processes):
            if i not in ended and one.process.poll() is not None:
                ended[i] = time.monotonic()
        if time.monotonic() > deadline:
            late = [one for i, one in enumerate(processes) if i not in ended]
            pytest.fail(
                "\n\n".join(
                    f"{one.tool} still running after {TIMEOUT_S:.0f} s: "
                    f"{shlex.join(one.command)}\n{one.log.read_text()[-2500:]}"
                    for one in late
                )
            )
        time.sleep(0.05)
    return [
        Run(one.tool, one.command, one.cwd, one.process.returncode,
            ended[i] - one.started, one.log.read_text())
        for i, one in enumerate(processes)
    ]  # fmt: skip


def environment_for(case: Case, target: str, home: Path) -> dict:
    """The caller's environment without LOCUST_* settings or a database URL, HOME in the
    run's own directory (so no ~/.locust.conf is read), plus the case's variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LOCUST_") and key != "DATABASE_URL"
    }
    env["HOME"] = str(home)
    for key, value in case.env.items():
        value = value.replace("{target}", target)
        if key == "PYTHONPATH" and env.get(key):
            value = os.pathsep.join([value, env[key]])  # in front of the caller's
        env[key] = value
    return env


def run_side_by_side(case: Case, target: str, tmp_path: Path) -> tuple[Run, Run]:
    """Plain Locust and `perflab run` on the same case, at the same time."""
    args = [arg.replace("{target}", target) for arg in case.args]
    outputs = ["--csv", CSV_PREFIX, "--html", HTML_FILE]
    python = sys.executable
    locust_dir, perflab_dir = tmp_path / "locust", tmp_path / "perflab"
    for directory in (locust_dir, perflab_dir):
        directory.mkdir()
        for name, text in case.files.items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(text.replace("{target}", target))

    locust = [python, "-m", "locust"]
    perflab = [python, "-m", "perflab", "run"]
    locust_command = [*locust, "--headless", *args, *case.locust_args, *outputs]
    perflab_command = [
        *perflab, "--headless", *args, *case.perflab_args, *outputs, "--quiet", "--out", RUN_DIR
    ]  # fmt: skip
    locust_workers: list[list[str]] = []
    perflab_workers: list[list[str]] = []
    n = str(case.workers)
    if case.workers and case.distribution == "processes":
        # Plain Locust's --processes master listens on 5557 unless told otherwise: cases run
        # at once (make test's workers) would take each other's port. perflab run picks a
        # free one itself.
        port = str(free_port())
        locust_command += ["--processes", n, "--master-bind-port", port, "--master-port", port]
        perflab_command += ["--processes", n]
    elif case.workers:
        ports = {"locust": free_port(), "perflab": free_port()}
        locustfile_args = args[: args.index("-f") + 2] if "-f" in args else []

        def master(tool: str) -> list[str]:
            return [
                "--master", "--expect-workers", n, "--expect-workers-max-wait", "10",
                "--master-bind-host", "127.0.0.1", "--master-bind-port", str(ports[tool]),
            ]  # fmt: skip

        def worker(tool: str) -> list[str]:
            command = locust if tool == "locust" else perflab
            return [*command, "--worker", *locustfile_args,
                    "--master-host", "127.0.0.1", "--master-port", str(ports[tool])]  # fmt: skip

        locust_command += master("locust")
        locust_workers = [worker("locust")] * case.workers
        if case.distribution == "master":
            perflab_command += master("perflab")
            perflab_workers = [worker("perflab")] * case.workers
        else:
            perflab_command += ["--workers", n]

    locust_env = environment_for(case, target, locust_dir)
    perflab_env = environment_for(case, target, perflab_dir)
    started = [
        start("locust", locust_command, locust_dir, locust_env, "locust.out"),
        start("perflab run", perflab_command, perflab_dir, perflab_env, "perflab.out"),
    ]
    workers = [
        *(start(f"locust worker {i}", command, locust_dir, locust_env, f"worker-{i}.out")
          for i, command in enumerate(locust_workers)),
        *(start(f"perflab run worker {i}", command, perflab_dir, perflab_env, f"worker-{i}.out")
          for i, command in enumerate(perflab_workers)),
    ]  # fmt: skip
    try:
        if case.signal is not None:
            signum, after_s = case.signal
            time.sleep(after_s)
            for one in started:
                one.process.send_signal(signum)
        locust_run, perflab_run, *worker_runs = finish(
            [*started, *workers], time.monotonic() + TIMEOUT_S
        )
        for run in worker_runs:
            (locust_run if run.tool.startswith("locust") else perflab_run).workers.append(run)
    finally:
        for one in [*started, *workers]:
            if one.process.poll() is None:
                os.killpg(one.process.pid, signal.SIGKILL)
                one.process.wait(timeout=10)
    for run in locust_run.workers:
        assert run.returncode == 0, run.describe()
    return locust_run, perflab_run


class Differences:
    """What `perflab run` did differently from plain Locust, collected over one case."""

    def __init__(self, locust: Run, perflab: Run) -> None:
        self.locust, self.perflab = locust, perflab
        self.found: list[str] = []

    def same(self, what: str, locust_value, perflab_value) -> None:
        if locust_value != perflab_value:
            self.found.append(f"{what}: locust {locust_value!r}, perflab run {perflab_value!r}")

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.found.append(message)

    def assert_none(self) -> None:
        if self.found:
            pytest.fail(
                "perflab run differs from locust:\n- "
                + "\n- ".join(self.found)
                + f"\n\n{self.perflab.describe()}\n\n{self.locust.describe()}",
                pytrace=False,
            )


def compare_runs(
    locust: Run, perflab: Run, *, names: set[tuple[str, str]], exit_code: int = 0
) -> Differences:
    """Plain Locust did what the case expects; then every way `perflab run` differs."""
    assert locust.returncode == exit_code, locust.describe()
    assert locust.html_request_names() == names, locust.describe()
    assert locust.csv_request_names() <= names, locust.describe()

    differences = Differences(locust, perflab)
    differences.same("exit code", locust.returncode, perflab.returncode)
    for worker in perflab.workers:
        differences.check(worker.returncode == 0, worker.describe())
    compare_locust_files(differences)
    compare_perflab_statistics(differences, names)
    return differences


def compare_locust_files(differences: Differences) -> None:
    """Locust's --csv and --html files, read by the same reader on both runs."""
    locust, perflab = differences.locust, differences.perflab
    locust_html = reports.html_template_args(locust.html_file)
    final = {
        "_stats.csv": reports.html_request_names(locust_html),
        "_failures.csv": reports.html_failure_names(locust_html),
    }
    for kind, read in (("_stats.csv", reports.stats_csv), ("_failures.csv", reports.failures_csv)):
        if not Path(f"{perflab.csv_prefix}{kind}").is_file():
            differences.found.append(f"--csv {CSV_PREFIX}: perflab run wrote no {kind}")
            continue
        locust_table, perflab_table = read(locust.csv_prefix), read(perflab.csv_prefix)
        differences.same(f"{kind} header", locust_table.header, perflab_table.header)
        locust_rows = reports.csv_request_names(locust_table)
        perflab_rows = reports.csv_request_names(perflab_table)
        # Locust rewrites its CSV files every second while the run goes, not at the end: a
        # run that ends within a second of its first request can miss rows, under either
        # command. When plain Locust's CSV has every row, perflab's must have them too.
        complete = locust_rows == final[kind]
        if complete or not perflab_rows <= final[kind]:
            differences.same(
                f"{kind} rows (method, name)", sorted(locust_rows), sorted(perflab_rows)
            )
    for kind in ("_exceptions.csv", "_stats_history.csv"):
        path = Path(f"{perflab.csv_prefix}{kind}")
        if not path.is_file():
            differences.found.append(f"--csv {CSV_PREFIX}: perflab run wrote no {kind}")
            continue
        differences.same(
            f"{kind} header",
            reports.read_csv_table(Path(f"{locust.csv_prefix}{kind}")).header,
            reports.read_csv_table(path).header,
        )
    if not perflab.html_file.is_file():
        differences.found.append(f"--html {HTML_FILE}: perflab run wrote no report")
        return
    differences.same(
        f"--html {HTML_FILE} written as",
        [path.name for path in locust.html_files()],
        [path.name for path in perflab.html_files()],
    )
    differences.same(
        "--html requests (method, name)",
        sorted(locust.html_request_names()),
        sorted(perflab.html_request_names()),
    )


def compare_perflab_statistics(differences: Differences, names: set[tuple[str, str]]) -> None:
    """perflab's results.json names the same requests, and counts what Locust counted."""
    perflab = differences.perflab
    results_file = perflab.cwd / RUN_DIR / "results.json"
    if not results_file.is_file():
        differences.found.append(f"perflab run wrote no {RUN_DIR}/results.json")
        return
    results = json.loads(results_file.read_text())
    endpoints = {(endpoint["method"], endpoint["name"]) for endpoint in results["endpoints"]}
    differences.same("results.json endpoints vs Locust's names", sorted(names), sorted(endpoints))
    host = reports.html_template_args(differences.locust.html_file)["host"]
    host = None if host == "None" else host  # no host: Locust's report writes str(None)
    differences.same("results.json environment.target vs Locust's host", host,
                     results["environment"]["target"])  # fmt: skip
    if not perflab.html_file.is_file() or not Path(f"{perflab.csv_prefix}_stats.csv").is_file():
        return
    requests = results["totals"]["requests"]
    # Locust's HTML report holds its final figures; its CSV is rewritten every second, so
    # its last write can miss the run's last second, never count more.
    html_total = perflab.html_total_requests()
    csv_total = reports.csv_total_requests(perflab.stats_csv())
    differences.check(
        abs(requests - html_total) <= max(3, 0.05 * html_total),
        f"results.json totals.requests {requests}, Locust's HTML report {html_total}",
    )
    differences.check(
        csv_total <= requests,
        f"results.json totals.requests {requests} < Locust's CSV count {csv_total}",
    )


def request_names(method: str, *paths: str) -> set[tuple[str, str]]:
    return {(method, path) for path in paths}


# --- custom arguments, config files, environment variables, tags -----------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ((), request_names("GET", "/items/from-default", "/hidden/7")),
        (
            ("--my-argument", "from-cli", "--my-hidden-argument", "9"),
            request_names("GET", "/items/from-cli", "/hidden/9"),
        ),
    ],
    ids=["defaults", "command-line"],
)
def test_custom_argument(target, tmp_path, extra, expected):
    case = Case(("-f", locustfile("custom_argument.py"), "-H", "{target}", *SHORT_RUN, *extra))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    compare_runs(locust, perflab, names=expected).assert_none()


def test_custom_argument_named_like_a_perflab_option(target, tmp_path):
    """A locustfile's `--label` (perflab run has a `--label` of its own)."""
    case = Case(
        ("-f", locustfile("option_named_like_perflabs.py"), "-H", "{target}", *SHORT_RUN,
         "--label", "release-42"),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = request_names("GET", "/labelled/release-42")
    compare_runs(locust, perflab, names=names).assert_none()


CONFIGURED = locustfile("configured_run.py")
CONFIG_CASES = {
    # --config FILE; the command line's -u wins over the file's users.
    "config-file": (
        Case(
            ("-f", CONFIGURED, "--config", "team.conf", "-u", "2"),
            files={
                "team.conf": "host = {target}\nusers = 3\nspawn-rate = 10\nrun-time = 2s\n"
                "exclude-tags = [excluded]\njourney = from-config-file\n"
            },
        ),
        {"num_users": 2, "journey": "from-config-file", "tags": None, "exclude_tags": ["excluded"]},
        request_names("GET", "/configured/from-config-file", "/tagged/included"),
    ),
    # locust.conf in the working directory, naming the locustfile too: no -f.
    "locust.conf": (
        Case(
            (),
            files={
                "locust.conf": f"locustfile = {CONFIGURED}\nhost = {{target}}\nusers = 3\n"
                "spawn-rate = 10\nrun-time = 2s\nexclude-tags = [excluded]\n"
                "journey = from-locust-conf\n"
            },
        ),
        {"num_users": 3, "journey": "from-locust-conf", "tags": None, "exclude_tags": ["excluded"]},
        request_names("GET", "/configured/from-locust-conf", "/tagged/included"),
    ),
    "pyproject.toml": (
        Case(
            ("-f", CONFIGURED),
            files={
                "pyproject.toml": '[project]\nname = "shop-load-tests"\n\n[tool.locust]\n'
                'host = "{target}"\nusers = 3\nspawn-rate = 10\nrun-time = "2s"\n'
                'tags = ["included"]\njourney = "from-pyproject"\n'
            },
        ),
        {"num_users": 3, "journey": "from-pyproject", "tags": ["included"], "exclude_tags": None},
        request_names("GET", "/tagged/included"),
    ),
    # No -u, -r: Locust's headless defaults (1 user, 1 a second) are in parsed_options too.
    "defaults": (
        Case(("-f", CONFIGURED, "-H", "{target}", "-t", "2s")),
        {"num_users": 1, "spawn_rate": 1, "journey": "unnamed", "tags": None, "exclude_tags": None},
        request_names("GET", "/configured/unnamed", "/tagged/included", "/tagged/excluded"),
    ),
    "environment": (
        Case(
            ("-f", CONFIGURED),
            env={
                "LOCUST_HOST": "{target}",
                "LOCUST_USERS": "2",
                "LOCUST_SPAWN_RATE": "10",
                "LOCUST_RUN_TIME": "2s",
                "LOCUST_JOURNEY": "from-env",
            },
        ),
        {"num_users": 2, "journey": "from-env", "tags": None, "exclude_tags": None},
        request_names("GET", "/configured/from-env", "/tagged/included", "/tagged/excluded"),
    ),
}


@pytest.mark.parametrize("source", CONFIG_CASES)
def test_options_from_config_files_and_environment(target, tmp_path, source):
    case, expected_options, expected_names = CONFIG_CASES[source]
    locust, perflab = run_side_by_side(case, target, tmp_path)
    differences = compare_runs(locust, perflab, names=expected_names)
    (options,) = locust.recorded("options.json")
    expected = {"host": target, "spawn_rate": 10.0, "run_time": 2, **expected_options}
    expected["target_user_count"] = expected["num_users"]
    assert {key: options[key] for key in expected} == expected, locust.describe()
    if (perflab.cwd / "options.json").is_file():
        differences.same("recorded options", options, perflab.recorded("options.json")[0])
    else:
        differences.found.append("the locustfile's test_start listener wrote no options.json")
    differences.assert_none()


def test_tags(target, tmp_path):
    case = Case(
        ("-f", locustfile("tagged_tasks.py"), "-H", "{target}", *SHORT_RUN,
         "--tags", "browse", "checkout", "--exclude-tags", "slow"),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("GET", "/products/"), ("POST", "/checkout/")}
    compare_runs(locust, perflab, names=names).assert_none()


# --- iterations -------------------------------------------------------------------------


def assert_iterations(locust: Run, perflab: Run, iterations: int) -> None:
    differences = compare_runs(locust, perflab, names={("GET", "/iteration")})
    assert locust.html_total_requests() == iterations, locust.describe()
    assert locust.elapsed_s < 7, locust.describe()  # ended by the iterations, not -t 10s
    differences.check(perflab.elapsed_s < 7, f"perflab run took {perflab.elapsed_s:.1f} s")
    if perflab.html_file.is_file():
        differences.same("requests in the HTML report", iterations, perflab.html_total_requests())
    results_file = perflab.cwd / RUN_DIR / "results.json"
    if results_file.is_file():
        requests = json.loads(results_file.read_text())["totals"]["requests"]
        differences.same("results.json totals.requests", iterations, requests)
    differences.assert_none()


def test_iterations_from_locust_plugins(target, tmp_path):
    """locust-plugins' `-i/--iterations`, added by the locustfile's `import locust_plugins`.

    One user: locust-plugins quits the runner when the user that finds the limit reached is
    the last one running, and two users in step can both find another still running — then
    plain Locust runs on to `-t`.
    """
    case = Case(
        ("-f", locustfile("iterations_plugin.py"), "-H", "{target}",
         "-u", "1", "-r", "10", "-t", "10s", "-i", "10"),
    )  # fmt: skip
    assert_iterations(*run_side_by_side(case, target, tmp_path), iterations=10)


# An installation without locust-plugins: `locust` (and `perflab run`) import it when it is
# installed, and this shadow answers as Python does when it is not.
WITHOUT_LOCUST_PLUGINS = {
    "without-locust-plugins/locust_plugins/__init__.py": (
        "raise ModuleNotFoundError(\"No module named 'locust_plugins'\", name='locust_plugins')\n"
    )
}


def test_perflab_iterations_match_a_locustfile_that_counts_them(target, tmp_path):
    """perflab's own `-i` (no locust-plugins installed) on a plain locustfile, against the
    locustfile counting and quitting itself under plain Locust (locust-plugins' meaning:
    iterations in total); two users in step."""
    case = Case(
        ("-f", locustfile("iterations_counted.py"), "-H", "{target}",
         "-u", "2", "-r", "10", "-t", "10s"),
        locust_args=("--stop-after", "10"),
        perflab_args=("-i", "10"),
        env={"PYTHONPATH": "without-locust-plugins"},
        files=WITHOUT_LOCUST_PLUGINS,
    )  # fmt: skip
    assert_iterations(*run_side_by_side(case, target, tmp_path), iterations=10)


# --- events and runner state ------------------------------------------------------------

LOCAL_EVENTS = [
    "init_command_line_parser", "init", "test_start", "spawning_complete",
    "test_stopping", "test_stop", "quitting", "quit",
]  # fmt: skip


def events_by_process(run: Run) -> tuple[list[dict], list[list[dict]]]:
    """The events of the local runner or master, and those of each worker."""
    by_pid: dict[int, list[dict]] = {}
    for line in run.recorded("events.jsonl"):
        by_pid.setdefault(line["pid"], []).append(line)
    main, workers = [], []
    for lines in by_pid.values():
        classes = {line["runner"]["class"] for line in lines if line["runner"]}
        (workers.append(lines) if classes == {"WorkerRunner"} else main.append(lines))
    assert len(main) == 1, by_pid
    return main[0], workers


# A master fires init as soon as it listens: workers started with it (locust --processes,
# perflab --workers) may or may not have connected by then.
TIMING_DEPENDENT = {("init", "worker_count"), ("init", "clients")}


def deterministic(lines: list[dict], keys: tuple[str, ...]) -> list[tuple]:
    """Each event with the runner fields that do not depend on timing."""
    return [
        (line["event"],
         *(None if (line["event"], key) in TIMING_DEPENDENT else (line["runner"] or {}).get(key)
           for key in keys),
         line.get("exit_code"), line.get("user_count_argument"),
         line.get("runner_is_environments"))
        for line in lines
    ]  # fmt: skip


def test_events_order_local(target, tmp_path):
    case = Case(
        ("-f", locustfile("events_order.py"), "-H", "{target}",
         "-u", "3", "-r", "10", "-t", "2s", "--events-file", "events.jsonl"),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    differences = compare_runs(locust, perflab, names={("GET", "/events/page")})
    keys = ("class", "state", "target_user_count", "user_count")
    locust_events, _ = events_by_process(locust)
    assert [line["event"] for line in locust_events] == LOCAL_EVENTS, locust_events
    if (perflab.cwd / "events.jsonl").is_file():
        perflab_events, _ = events_by_process(perflab)
        differences.same(
            "events (event, runner class, state, target_user_count, user_count, exit code, "
            "spawned users)",
            deterministic(locust_events, keys),
            deterministic(perflab_events, keys),
        )
    else:
        differences.found.append("the locustfile recorded no events (events.jsonl)")
    differences.assert_none()


@pytest.mark.parametrize("distribution", ["workers", "master"])
def test_events_order_distributed(target, tmp_path, distribution):
    """perflab run --workers 2, and perflab's own --master with two perflab --worker, against
    locust --master with two locust --worker."""
    case = Case(
        ("-f", locustfile("events_order.py"), "-H", "{target}",
         "-u", "4", "-r", "10", "-t", "2s", "--events-file", "events.jsonl"),
        workers=2,
        distribution=distribution,
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    differences = compare_runs(locust, perflab, names={("GET", "/events/page")})
    # At quitting and quit Locust's master has no worker left: MasterRunner.quit() sends them
    # quit and waits 0.5 s for them to say they left.
    master_keys = ("class", "state", "target_user_count", "user_count", "worker_count", "clients")
    worker_keys = ("class", "state", "target_user_count")
    locust_master, locust_workers = events_by_process(locust)
    assert [line["event"] for line in locust_master] == LOCAL_EVENTS, locust_master
    assert len(locust_workers) == 2, locust_workers
    if (perflab.cwd / "events.jsonl").is_file():
        perflab_master, perflab_workers = events_by_process(perflab)
        differences.same(
            "master events (event, runner class, state, target_user_count, user_count, "
            "worker_count, clients, exit code, spawned users)",
            deterministic(locust_master, master_keys),
            deterministic(perflab_master, master_keys),
        )
        differences.same(
            "worker events (event, runner class, state, target_user_count, exit code, "
            "spawned users)",
            sorted(json.dumps(deterministic(lines, worker_keys)) for lines in locust_workers),
            sorted(json.dumps(deterministic(lines, worker_keys)) for lines in perflab_workers),
        )
    else:
        differences.found.append("the locustfile recorded no events (events.jsonl)")
    differences.assert_none()


def test_test_data_handed_out_in_test_start(target, tmp_path):
    """The issue's case: one account per target user, made in test_start, popped in on_start."""
    case = Case(
        ("-f", locustfile("handed_out_data.py"), "-H", "{target}", "-u", "3", "-r", "10",
         "-t", "2s"),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("GET", f"/accounts/account-{i}/balance") for i in range(3)}
    differences = compare_runs(locust, perflab, names=names)
    differences.check(
        "IndexError" not in perflab.output, "perflab run's users failed with IndexError"
    )
    differences.assert_none()


@pytest.mark.parametrize(
    ("workers", "distribution", "acknowledgements"),
    [
        (0, "workers", [{"received": 4}]),
        (2, "workers", [{"received": 2}, {"received": 2}]),
        (2, "master", [{"received": 2}, {"received": 2}]),
        (2, "processes", [{"received": 2}, {"received": 2}]),
    ],
    ids=["local", "perflab-workers", "master-and-workers", "processes"],
)
def test_custom_messages(target, tmp_path, workers, distribution, acknowledgements):
    """Locust's custom_messages example: usernames made in test_start from target_user_count,
    sent to the workers (to itself in a local run), acknowledged back to the master."""
    case = Case(
        ("-f", locustfile("custom_messages.py"), "-H", "{target}", "-u", "4", "-r", "10",
         "-t", "2s"),
        workers=workers,
        distribution=distribution,
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("GET", f"/users/user{i}") for i in range(4)}
    differences = compare_runs(locust, perflab, names=names)
    assert locust.recorded("acks.jsonl") == acknowledgements, locust.describe()
    if (perflab.cwd / "acks.jsonl").is_file():
        differences.same("acknowledgements", acknowledgements, perflab.recorded("acks.jsonl"))
    else:
        differences.found.append("no acknowledgement reached the master (acks.jsonl)")
    differences.assert_none()


# --- task sets, ending a run, statistics ------------------------------------------------


def test_markov_task_set(target, tmp_path):
    case = Case(("-f", locustfile("markov_tasks.py"), "-H", "{target}", *SHORT_RUN))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = request_names("GET", "/", "/catalogue/", "/product/42", "/cart/")
    compare_runs(locust, perflab, names=names).assert_none()


@pytest.mark.parametrize(
    ("max_fail_ratio", "exit_code"), [("0.1", 1), ("0.5", 0)], ids=["above", "below"]
)
def test_quit_on_threshold(target, tmp_path, max_fail_ratio, exit_code):
    """runner.quit() from a greenlet after 20 requests; the quitting listener's exit code
    (0 below the ratio although a quarter of the requests failed)."""
    case = Case(
        ("-f", locustfile("quit_on_threshold.py"), "-H", "{target}", "-u", "2", "-r", "10",
         "-t", "10s", "--quit-after", "20", "--max-fail-ratio", max_fail_ratio),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = request_names("GET", "/orders/", "/fail/orders/")
    differences = compare_runs(locust, perflab, names=names, exit_code=exit_code)
    assert locust.elapsed_s < 7, locust.describe()  # ended by runner.quit(), not -t 10s
    differences.check(perflab.elapsed_s < 7, f"perflab run took {perflab.elapsed_s:.1f} s")
    differences.assert_none()


def test_stats_readers(target, tmp_path):
    case = Case(("-f", locustfile("stats_readers.py"), "-H", "{target}", *SHORT_RUN))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("GET", "/search"), ("POST", "/suggest")}
    differences = compare_runs(locust, perflab, names=names)
    (read,) = locust.recorded("stats.json")
    assert read["entries"] == sorted([name, method] for method, name in names)
    assert read["total_requests"] == locust.html_total_requests()
    assert 0 < read["search_requests"] < read["total_requests"]
    assert read["search_p90"] > 0 and read["total_p999"] > 0
    if (perflab.cwd / "stats.json").is_file():
        (perflab_read,) = perflab.recorded("stats.json")
        differences.same("stats entries read", read["entries"], perflab_read["entries"])
        if perflab.html_file.is_file():
            differences.same(
                "total requests read in quitting vs perflab's HTML report",
                perflab_read["total_requests"],
                perflab.html_total_requests(),
            )
        differences.check(
            0 < perflab_read["search_requests"] < perflab_read["total_requests"]
            and perflab_read["search_p90"] > 0,
            f"stats read under perflab run: {perflab_read}",
        )
    else:
        differences.found.append("the quitting listener wrote no stats.json")
    differences.assert_none()


def test_sibling_imports_and_data_files(target, tmp_path):
    case = Case(("-f", locustfile("sibling_imports.py"), "-H", "{target}", *SHORT_RUN))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = request_names("GET", "/products/boots", "/products/scarf", "/products/gloves")
    compare_runs(locust, perflab, names=names).assert_none()


@pytest.mark.parametrize(
    ("extra", "exit_code"),
    [((), 1), (("--exit-code-on-error", "0"), 0)],
    ids=["default", "exit-code-on-error-0"],
)
def test_failing_requests(target, tmp_path, extra, exit_code):
    case = Case(("-f", locustfile("failing_requests.py"), "-H", "{target}", *SHORT_RUN, *extra))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("GET", "/basket/"), ("POST", "/fail/payment")}
    differences = compare_runs(locust, perflab, names=names, exit_code=exit_code)
    failures = reports.failures_csv(locust.csv_prefix)
    assert reports.csv_request_names(failures) == {("POST", "/fail/payment")}
    differences.assert_none()


def test_a_run_without_requests(target, tmp_path):
    """The documented difference: perflab run fails a run that made no request (exit 1,
    one line, README "Exit codes" and `perflab run --help`); plain Locust exits 0."""
    case = Case(("-f", locustfile("no_requests.py"), "-H", "{target}", *SHORT_RUN))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    assert locust.returncode == 0, locust.describe()
    assert locust.html_request_names() == set()
    assert perflab.returncode == 1, perflab.describe()
    assert "no request completed" in perflab.output, perflab.describe()
    assert "Traceback" not in perflab.output, perflab.describe()


def test_exception_in_a_task(target, tmp_path):
    case = Case(("-f", locustfile("raising_task.py"), "-H", "{target}", *SHORT_RUN))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    differences = compare_runs(locust, perflab, names={("GET", "/orders/7")}, exit_code=1)
    exceptions = reports.exceptions_csv(locust.csv_prefix)
    assert [row["Message"] for row in exceptions.rows] == ["'total'"], exceptions
    if Path(f"{perflab.csv_prefix}_exceptions.csv").is_file():
        perflab_exceptions = reports.exceptions_csv(perflab.csv_prefix)
        differences.same("_exceptions.csv header", exceptions.header, perflab_exceptions.header)
        differences.same(
            "_exceptions.csv messages",
            [row["Message"] for row in exceptions.rows],
            [row["Message"] for row in perflab_exceptions.rows],
        )
    else:
        differences.found.append("--csv: perflab run wrote no _exceptions.csv")
    differences.assert_none()


def test_responses_judged_by_the_locustfile(target, tmp_path):
    case = Case(("-f", locustfile("catch_response.py"), "-H", "{target}", *SHORT_RUN))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = request_names("GET", "/search?q=", "/fail/expected", "/items/[id]")
    differences = compare_runs(locust, perflab, names=names, exit_code=1)
    failures = reports.html_failure_names(reports.html_template_args(locust.html_file))
    assert failures == {("GET", "/search?q=")}, failures
    if perflab.html_file.is_file():
        differences.same(
            "failures in the HTML report",
            failures,
            reports.html_failure_names(reports.html_template_args(perflab.html_file)),
        )
    results_file = perflab.cwd / RUN_DIR / "results.json"
    if results_file.is_file():
        failed = {
            (endpoint["method"], endpoint["name"])
            for endpoint in json.loads(results_file.read_text())["endpoints"]
            if endpoint["failures"]
        }
        differences.same("endpoints with failures in results.json", failures, failed)
    differences.assert_none()


# --- how a run ends, what it is given -----------------------------------------------------


def test_load_shape_ends_the_run(target, tmp_path):
    case = Case(("-f", locustfile("load_shape.py"), "-H", "{target}"))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    differences = compare_runs(locust, perflab, names={("GET", "/shaped")})
    assert locust.elapsed_s < 8, locust.describe()  # the shape's 2 s, not "until stopped"
    differences.check(perflab.elapsed_s < 8, f"perflab run took {perflab.elapsed_s:.1f} s")
    differences.assert_none()


def test_run_time_with_the_locustfiles_shape(target, tmp_path):
    """With the locustfile's LoadTestShape, `locust` ignores -t (a warning) and the shape ends
    the run; so does `perflab run`, saying so in one line. Same requests, same exit code."""
    case = Case(
        ("-f", locustfile("shape_longer_than_run_time.py"), "-H", "{target}", "-t", "2s"),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    differences = compare_runs(locust, perflab, names={("GET", "/staged")})
    assert "The following option(s) will be ignored: --run-time" in locust.output
    assert locust.elapsed_s >= 5.5, locust.describe()  # the shape's 6 s
    differences.check(perflab.elapsed_s >= 5.5, f"perflab run took {perflab.elapsed_s:.1f} s")
    note = "-t 2s is ignored: the locustfile's SixSeconds ends the run, as under locust"
    differences.check(note in perflab.output, f"no note {note!r}")
    differences.assert_none()


def test_several_shapes_the_first_runs(target, tmp_path):
    """Two locustfiles with a LoadTestShape each: `locust` runs the first found (TwoSteps,
    2 s) with both files' users; so does `perflab run`, saying so in one line."""
    files = f"{locustfile('load_shape.py')},{locustfile('shape_longer_than_run_time.py')}"
    case = Case(("-f", files, "-H", "{target}"))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    differences = compare_runs(locust, perflab, names=request_names("GET", "/shaped", "/staged"))
    assert locust.elapsed_s < 5, locust.describe()  # TwoSteps' 2 s, not SixSeconds' 6 s
    differences.check(perflab.elapsed_s < 5, f"perflab run took {perflab.elapsed_s:.1f} s")
    note = "the locustfiles define 2 load shapes (TwoSteps, SixSeconds): TwoSteps runs"
    differences.check(note in perflab.output, f"no note {note!r}")
    differences.assert_none()


SHOP_USER = """\
from locust import HttpUser, constant, task


class ShopUser(HttpUser):
    wait_time = constant(0.2)

    @task
    def shop(self):
        self.client.get("/shop")
"""


@pytest.mark.parametrize(
    ("files", "locust_says", "perflab_says"),
    [
        ({"a_shop.py": SHOP_USER, "b_shop.py": SHOP_USER},
         "Duplicate user class names: ShopUser is defined in both",
         "perflab: error: user class ShopUser is defined in both"),
        ({"a_shop.py": SHOP_USER, "b_shop.py": "import no_such_module_here\n"},
         "ModuleNotFoundError: No module named 'no_such_module_here'",
         "perflab: error: locustfile b_shop.py:1: ModuleNotFoundError: No module named"),
    ],
    ids=["duplicate-user-class", "import-error"],
)  # fmt: skip
def test_locustfiles_locust_cannot_load(target, tmp_path, files, locust_says, perflab_says):
    """The documented difference (README "Where perflab differs"): locustfiles Locust cannot
    load make `locust` exit 1 (a traceback for an import error); `perflab run` says why in
    one line and exits 2, as for any bad usage."""
    case = Case(("-f", "a_shop.py,b_shop.py", "-H", "{target}", *SHORT_RUN), files=files)
    locust, perflab = run_side_by_side(case, target, tmp_path)
    assert locust.returncode == 1, locust.describe()
    assert locust_says in locust.output, locust.describe()
    differences = Differences(locust, perflab)
    differences.same("exit code (documented: 2, bad usage)", 2, perflab.returncode)
    lines = perflab.output.strip().splitlines()
    differences.check(len(lines) == 1 and lines[0].startswith(perflab_says),
                      f"not one line starting {perflab_says!r}")  # fmt: skip
    differences.assert_none()


def test_stop_timeout_lets_users_finish_their_task(target, tmp_path):
    """-t 2s stops users 2 s into a 2.5 s task; --stop-timeout 5 lets them finish it (Locust's
    default 0 cuts it short: /checkout/end would never be requested)."""
    case = Case(
        ("-f", locustfile("long_task.py"), "-H", "{target}", *SHORT_RUN, "--stop-timeout", "5"),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = request_names("GET", "/checkout/begin", "/checkout/end")
    compare_runs(locust, perflab, names=names).assert_none()


def test_host_on_the_user_class(target, tmp_path):
    """No -H: the User class's own `host` (read here from the environment, as teams do)."""
    case = Case(
        ("-f", locustfile("host_on_the_class.py"), *SHORT_RUN),
        env={"SHOP_URL": "{target}"},
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    compare_runs(locust, perflab, names={("GET", "/from-the-class")}).assert_none()


# A pytest-style locustfile (Locust's examples/test_pytest.py): each test function is a user
# class, its `session` fixture Locust's HttpSession. Written into the run's own directory, so
# that the pytest collection Locust runs on it finds no conftest.py or pytest settings of ours.
PYTEST_STYLE = """\
def test_checkout(session):
    session.get("/pytest-style/cart")
    with session.post("/pytest-style/checkout", catch_response=True) as resp:
        if "checkout" not in resp.text:
            resp.failure("no checkout in the answer")
"""


@pytest.mark.parametrize("workers", [0, 2], ids=["local", "processes"])
def test_pytest_style_locustfile(target, tmp_path, workers):
    case = Case(
        ("-f", "checkout_tests.py", "-H", "{target}", *SHORT_RUN),
        files={"checkout_tests.py": PYTEST_STYLE},
        # Locust's collection loads every pytest plugin: pytest-django would set up the
        # settings module this test suite runs with.
        env={"DJANGO_SETTINGS_MODULE": ""},
        workers=workers,
        distribution="processes",
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("GET", "/pytest-style/cart"), ("POST", "/pytest-style/checkout")}
    compare_runs(locust, perflab, names=names).assert_none()


# A pattern of Django projects' locustfiles: Django set up at import (the reference app's
# settings), the ORM read then to pre-load usernames. perflab run must leave Django to it.
DJANGO_AT_IMPORT = """\
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "perflab.demo.settings")

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from locust import HttpUser, constant, events, task

call_command("migrate", verbosity=0)  # this run's own SQLite, in ./.perflab
User = get_user_model()
for name in ("ada", "grace"):
    User.objects.get_or_create(username=name)
USERNAMES = sorted(User.objects.values_list("username", flat=True))


@events.test_stop.add_listener
def count_users(environment, **_kwargs):
    with open("users-at-stop.txt", "w") as out:
        out.write(str(User.objects.count()))


class ProfileReader(HttpUser):
    wait_time = constant(0.2)

    @task
    def profile(self):
        for name in USERNAMES:
            self.client.get(f"/profiles/{name}")
"""


@pytest.mark.parametrize("workers", [0, 2], ids=["local", "processes"])
def test_django_set_up_by_the_locustfile(target, tmp_path, workers):
    case = Case(
        ("-f", "django_locustfile.py", "-H", "{target}", *SHORT_RUN),
        files={"django_locustfile.py": DJANGO_AT_IMPORT},
        env={"DJANGO_SETTINGS_MODULE": "perflab.demo.settings"},  # the suite's own is unset
        workers=workers,
        distribution="processes",
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("GET", "/profiles/ada"), ("GET", "/profiles/grace")}
    differences = compare_runs(locust, perflab, names=names)
    assert (locust.cwd / "users-at-stop.txt").read_text() == "2"
    stop_file = perflab.cwd / "users-at-stop.txt"
    differences.same("users read at test_stop",
                     "2", stop_file.read_text() if stop_file.is_file() else None)  # fmt: skip
    differences.assert_none()


@pytest.mark.parametrize("workers", [0, 2], ids=["local", "processes"])
def test_what_users_print(target, tmp_path, workers):
    """A local run prints on the terminal under both. With --processes, the documented
    difference (README "Where perflab differs"): each perflab worker's output is the run
    directory's worker-N.log, where `locust`'s forked workers share its terminal."""
    case = Case(
        ("-f", locustfile("printing_users.py"), "-H", "{target}", *SHORT_RUN),
        workers=workers,
        distribution="processes",
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    differences = compare_runs(locust, perflab, names={("GET", "/printed")})
    line = "a printing user started"
    assert locust.output.count(line) == 2, locust.describe()
    if workers:
        logs = sorted((perflab.cwd / RUN_DIR).glob("worker-*.log"))
        printed = sum(log.read_text().count(line) for log in logs)
        differences.same("prints in the run directory's worker-N.log", 2, printed)
        differences.same("prints on perflab run's terminal", 0, perflab.output.count(line))
    else:
        differences.same("prints on the terminal", 2, perflab.output.count(line))
    differences.assert_none()


@pytest.mark.parametrize("workers", [0, 2], ids=["local", "processes"])
def test_users_that_need_no_host(target, tmp_path, workers):
    """Plain ``User`` classes that report their own requests run without -H, as in Locust."""
    case = Case(
        ("-f", locustfile("no_host_needed.py"), *SHORT_RUN),
        workers=workers,
        distribution="processes",
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("compute", "sum-of-range")}
    compare_runs(locust, perflab, names=names).assert_none()


def test_a_host_that_does_not_answer(target, tmp_path):
    """The documented difference (README "Where perflab differs"): a host nothing answers on
    (Locust's examples name the web UI's 127.0.0.1:8089, run headless without -H) stops
    `perflab run` before the load, one line and exit 2; `locust` runs and every request
    fails (exit 1)."""
    case = Case(
        ("-f", locustfile("class_host_elsewhere.py"), *SHORT_RUN),
        env={"CLASS_HOST": f"http://127.0.0.1:{free_port()}"},
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    assert locust.returncode == 1, locust.describe()
    failures = reports.html_failure_names(reports.html_template_args(locust.html_file))
    assert failures == {("GET", "/overridden/by-the-master")}, locust.describe()
    differences = Differences(locust, perflab)
    differences.same("exit code (documented: 2, before any load)", 2, perflab.returncode)
    differences.check(
        "is unreachable: Connection refused" in perflab.output
        and "Traceback" not in perflab.output,
        "not one line saying the host is unreachable",
    )
    differences.assert_none()


@pytest.mark.parametrize("distribution", ["master", "processes"])
def test_workers_load_the_masters_host_not_their_user_classes(target, tmp_path, distribution):
    """The User class names a host nothing answers on (Locust's examples name the web UI's
    127.0.0.1:8089); -H on the master is where every worker sends its load (Locust's spawn
    message carries it). Workers are started without -H, as the README says."""
    case = Case(
        ("-f", locustfile("class_host_elsewhere.py"), "-H", "{target}", "-u", "4", "-r", "10",
         "-t", "2s"),
        env={"CLASS_HOST": f"http://127.0.0.1:{free_port()}"},
        workers=2,
        distribution=distribution,
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("GET", "/overridden/by-the-master")}
    compare_runs(locust, perflab, names=names).assert_none()


def test_several_locustfiles(target, tmp_path):
    """`-f a.py,b.py`: the user classes of both files (one user of each)."""
    files = f"{locustfile('markov_tasks.py')},{locustfile('sibling_imports.py')}"
    case = Case(("-f", files, "-H", "{target}", *SHORT_RUN))
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = request_names(
        "GET", "/", "/catalogue/", "/product/42", "/cart/",
        "/products/boots", "/products/scarf", "/products/gloves",
    )  # fmt: skip
    compare_runs(locust, perflab, names=names).assert_none()


def test_user_classes_picked_on_the_command_line(target, tmp_path):
    case = Case(
        ("-f", locustfile("user_classes.py"), "-H", "{target}", *SHORT_RUN,
         "ReaderUser", "WriterUser"),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    names = {("GET", "/articles/"), ("POST", "/articles/")}
    compare_runs(locust, perflab, names=names).assert_none()


def test_logfile_and_loglevel(target, tmp_path):
    """`-L DEBUG --logfile FILE` (Locust makes a missing directory, as for --csv and --html)."""
    logfile = "logs/run.log"
    case = Case(
        ("-f", locustfile("user_classes.py"), "-H", "{target}", *SHORT_RUN,
         "-L", "DEBUG", "--logfile", logfile, "AdminUser"),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    differences = compare_runs(locust, perflab, names={("DELETE", "/articles/")})
    log = (locust.cwd / logfile).read_text()
    assert "DEBUG" in log and "locust.runners" in log, log
    perflab_log = perflab.cwd / logfile
    if perflab_log.is_file():
        text = perflab_log.read_text()
        differences.check(
            "DEBUG" in text and "locust.runners" in text,
            f"--logfile holds no DEBUG line of locust.runners:\n{text[-1500:]}",
        )
    else:
        differences.found.append(f"--logfile {logfile}: perflab run wrote no log file")
    differences.assert_none()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_open_ended_run_stopped_by_a_signal(target, tmp_path, signum):
    """No -t: the run lasts until stopped. Plain Locust exits 0 on Ctrl-C or SIGTERM (no
    failures); perflab run exits 130, "interrupted" — the documented difference (README,
    "Exit codes"; `perflab run --help`). The locustfile's quitting listener runs under both.
    Plain Locust writes --html on Ctrl-C, not on SIGTERM."""
    case = Case(
        ("-f", locustfile("open_ended.py"), "-H", "{target}", "-u", "2", "-r", "10"),
        signal=(signum, 3.0),
    )  # fmt: skip
    locust, perflab = run_side_by_side(case, target, tmp_path)
    assert locust.returncode == 0, locust.describe()
    assert locust.csv_request_names() == {("GET", "/steady")}, locust.describe()
    assert (locust.cwd / "cleaned-up").is_file(), locust.describe()
    assert locust.html_file.is_file() == (signum == signal.SIGINT)

    differences = Differences(locust, perflab)
    differences.same("exit code (documented: 130, interrupted)", 130, perflab.returncode)
    if Path(f"{perflab.csv_prefix}_stats.csv").is_file():
        differences.same("_stats.csv rows", locust.csv_request_names(), perflab.csv_request_names())
    else:
        differences.found.append("--csv: perflab run wrote no _stats.csv")
    cleaned = perflab.cwd / "cleaned-up"
    differences.check(cleaned.is_file(), "the locustfile's quitting listener did not run")
    if signum == signal.SIGINT:
        differences.check(perflab.html_file.is_file(), "--html: perflab run wrote no report")
    results_file = perflab.cwd / RUN_DIR / "results.json"
    if results_file.is_file():
        status = json.loads(results_file.read_text())["status"]
        differences.same("results.json status", "interrupted", status)
    else:
        differences.found.append(f"perflab run wrote no {RUN_DIR}/results.json")
    differences.assert_none()


def run_web_ui_side_by_side(
    tmp_path: Path, args: tuple[str, ...], target: str = "", env: dict | None = None
) -> tuple[Run, Run]:
    """Both tools' web UI with --autostart/--autoquit 0 on a free 127.0.0.1 port each;
    "{web_ui}" in ``env`` values is the tool's own UI."""
    commands = {
        "locust": [sys.executable, "-m", "locust"],
        "perflab run": [sys.executable, "-m", "perflab", "run", "--out", RUN_DIR],
    }
    started = []
    for tool, command in commands.items():
        cwd = tmp_path / tool.split()[0]
        cwd.mkdir()
        port = free_port()
        ui = f"http://127.0.0.1:{port}"
        case_env = {key: value.replace("{web_ui}", ui) for key, value in (env or {}).items()}
        arguments = [arg.replace("{target}", target) for arg in args]
        web = ["--web-host", "127.0.0.1", "--web-port", str(port), "--autostart", "--autoquit", "0"]
        command = [*command, *arguments, *web, "--csv", CSV_PREFIX]
        tool_env = environment_for(Case((), env=case_env), target, cwd)
        started.append(start(tool, command, cwd, tool_env, "out.log"))
    locust, perflab = finish(started, time.monotonic() + TIMEOUT_S)
    return locust, perflab


# serial: plain Locust's -t clock starts from gevent's cached loop time, before its web UI is
# up; on a busy machine its 2 s left under 1 s of requests and no CSV row (asserted first).
@pytest.mark.serial
def test_users_that_load_the_web_ui_itself(tmp_path):
    """Locust's web UI with --autostart/--autoquit, its users loading the UI itself (the
    User class's host is the UI's address, which answers only once the UI has started)."""
    locust, perflab = run_web_ui_side_by_side(
        tmp_path, ("-f", locustfile("web_ui_itself.py"), *SHORT_RUN), env={"WEB_UI": "{web_ui}"}
    )
    names = {("GET", "/stats/requests")}
    assert locust.returncode == 0, locust.describe()
    assert locust.csv_request_names() == names, locust.describe()
    differences = Differences(locust, perflab)
    differences.same("exit code", 0, perflab.returncode)
    if Path(f"{perflab.csv_prefix}_stats.csv").is_file():
        differences.same("_stats.csv rows", names, perflab.csv_request_names())
    else:
        differences.found.append("--csv: perflab run wrote no _stats.csv")
    results_file = perflab.cwd / RUN_DIR / "test-01" / "results.json"
    if results_file.is_file():
        endpoints = json.loads(results_file.read_text())["endpoints"]
        differences.same(
            "results.json endpoints",
            names,
            {(endpoint["method"], endpoint["name"]) for endpoint in endpoints},
        )
    else:
        differences.found.append(f"perflab run wrote no {RUN_DIR}/test-01/results.json")
    differences.assert_none()


def test_web_ui_exit_code_when_requests_failed(target, tmp_path):
    """Locust's web UI, --autostart/--autoquit: a request failed, so `locust` exits 1
    (--exit-code-on-error), as headless."""
    locust, perflab = run_web_ui_side_by_side(
        tmp_path, ("-f", locustfile("failing_requests.py"), "-H", "{target}", *SHORT_RUN),
        target=target,
    )  # fmt: skip
    assert locust.returncode == 1, locust.describe()
    differences = Differences(locust, perflab)
    differences.same("exit code", 1, perflab.returncode)
    differences.assert_none()


@pytest.mark.parametrize("option", ["--list", "--show-task-ratio", "--show-task-ratio-json"])
def test_options_that_describe_the_locustfile(tmp_path, option):
    """Options that print what the locustfile holds and exit, without load: the same output."""
    args = ["-f", locustfile("user_classes.py"), option]
    commands = {
        "locust": [sys.executable, "-m", "locust", *args],
        "perflab run": [sys.executable, "-m", "perflab", "run", *args],
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOCUST_")}
    env["HOME"] = str(tmp_path)
    with_pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    processes = {
        tool: subprocess.Popen(command, cwd=tmp_path, env=env, **with_pipes)
        for tool, command in commands.items()
    }
    outputs = {tool: process.communicate(timeout=TIMEOUT_S) for tool, process in processes.items()}
    locust_out, locust_err = outputs["locust"]
    perflab_out, perflab_err = outputs["perflab run"]
    assert processes["locust"].returncode == 0, locust_err
    assert "ReaderUser" in locust_out and "AdminUser" in locust_out, locust_out
    assert (processes["perflab run"].returncode, perflab_out) == (0, locust_out), perflab_err
