"""Every bad input found by trying each command's options with hostile values: the real
`perflab` command answers with one line on stderr, no traceback, and its documented exit code.

Each case is a `python -m perflab …` subprocess. Every one fails before any load starts or any
server is served (the only connections made are the target check's to 127.0.0.1), so the
cases run in parallel threads, each bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from perflab.server import free_port
from tests.commands.test_inspect import write_store
from tests.report.test_report import START, write_run

# Real `perflab` processes (281 of them): run once, on the main Django, not again on 6.0.
pytestmark = pytest.mark.integration

CASE_TIMEOUT_S = 60
THREADS = 4
LOCUSTFILE = "from locust import HttpUser, task\n\nclass U(HttpUser):\n    @task\n    def t(self):\n        self.client.get('/')\n"  # fmt: skip  # noqa: E501
LOCUSTFILES = {
    "lf.py": LOCUSTFILE,
    "syntax.py": "from locust import HttpUser\nclass U(HttpUser)\n",
    "raises.py": "raise RuntimeError('boom')\n",
    "no_user.py": "x = 1\n",
    "truncated.py": LOCUSTFILE[:-4],
    "imports.py": "import no_such_module_anywhere\n",
}
CSV_HEAD = b"request_id,method,name,at,latency_ms,service_ms,error\n"


def _mutate(results: dict, change) -> dict:
    copy = json.loads(json.dumps(results))
    change(copy)
    return copy


# results.json edited or cut short: (name, change to the good results or raw bytes)
BROKEN_RESULTS = {
    "no_totals": lambda r: r.pop("totals"),
    "totals_text": lambda r: r.update(totals="lots"),
    "totals_list": lambda r: r.update(totals=[]),
    "totals_no_latency": lambda r: r["totals"].pop("latency"),
    "totals_latency_text": lambda r: r["totals"].update(latency="fast"),
    "totals_p95_text": lambda r: r["totals"]["latency"].update(p95="fast"),
    "totals_requests_text": lambda r: r["totals"].update(requests="many"),
    "totals_requests_null": lambda r: r["totals"].update(requests=None),
    "endpoints_text": lambda r: r.update(endpoints="x"),
    "endpoints_object": lambda r: r.update(endpoints={"a": 1}),
    "endpoint_number": lambda r: r.update(endpoints=[1]),
    "endpoint_no_name": lambda r: r["endpoints"][0].pop("name"),
    "endpoint_no_method": lambda r: r["endpoints"][0].pop("method"),
    "endpoint_name_number": lambda r: r["endpoints"][0].update(name=5),
    "endpoint_rps_text": lambda r: r["endpoints"][0].update(rps="x"),
    "endpoint_errors_text": lambda r: r["endpoints"][0].update(errors="x"),
    "no_started_at": lambda r: r.pop("started_at"),
    "started_at_words": lambda r: r.update(started_at="yesterday"),
    "started_at_number": lambda r: r.update(started_at=5),
    "ended_at_null": lambda r: r.update(ended_at=None),
    "no_duration": lambda r: r.pop("duration_s"),
    "duration_text": lambda r: r.update(duration_s="long"),
    "status_number": lambda r: r.update(status=3),
    "slos_text": lambda r: r.update(slos="x"),
    "slo_expression_number": lambda r: r.update(slos=[{"expression": 1, "passed": True}]),
    "series_text": lambda r: r.update(series="x"),
    "series_second_text": lambda r: r.update(series=[{"second": "x"}]),
    "distribution_text": lambda r: r.update(distribution="x"),
    "distribution_pairs_text": lambda r: r.update(distribution=[["a", "b"]]),
    "files_text": lambda r: r.update(files="x"),
    "files_requests_number": lambda r: r["files"].update(requests=5),
    "files_outside_the_run": lambda r: r["files"].update(requests="/etc/passwd"),
    "probe_store_number": lambda r: r.update(probe_store=5),
    "environment_text": lambda r: r.update(environment="x"),
    "settings_list": lambda r: r.update(settings=[]),
    "monitor_text": lambda r: r.update(monitor="x"),
    "open_model_text": lambda r: r.update(open_model="x"),
    "open_model_rate_text": lambda r: r.update(open_model={"rate": "x"}),
    "samples_text": lambda r: r.update(samples="x"),
    "user_errors_numbers": lambda r: r.update(user_errors=[1]),
    "model_number": lambda r: r.update(model=1),
    "label_number": lambda r: r.update(label=1),
    "verdict_number": lambda r: r.update(verdict=1),
    "schema_only": lambda r: [r.pop(k) for k in list(r) if k != "schema"],
}
RAW_RESULTS = {
    "results_array": b"[1, 2]",
    "results_empty": b"",
    "results_truncated": None,  # the good file cut after 200 bytes
    "results_not_utf8": b'{"schema": "\xff\xfe"}',
    # What a run given bytes that are not UTF-8 would have written: lone surrogate escapes.
    "results_label_not_utf8": b'{"schema": "perflab.results/1", "label": "\\udcff"}',
    "results_hostname_not_utf8": b'{"environment": {"hostname": "\\udcff"}}',
    "results_too_deep": b"[" * 100_000 + b"]" * 100_000,
    "results_other_schema": b'{"schema": "other/9"}',
}
BROKEN_CSVS = {
    "requests_not_utf8": ("requests.csv", CSV_HEAD + b"\xff\xfe,GET,/x,1,2,2,\n"),
    "requests_huge_field": ("requests.csv", CSV_HEAD + b"a" * 200_000 + b",GET,/x,1,2,2,\n"),
    "monitor_not_utf8": ("monitor.csv", b"t,server_cpu_percent\n\xff,1\n"),
    "series_not_utf8": ("series.csv", b"\xff\xfe\n"),
}


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, str]:
    """Files to point commands at, and a loopback listener to be the load target."""
    root = tmp_path_factory.mktemp("hostile")
    good = write_run(root / "good", [("x", "GET", "/api/posts/<pk>/", START, 9.0, 9.0, "")])
    results = json.loads((good / "results.json").read_text())
    for name, change in BROKEN_RESULTS.items():
        shutil.copytree(good, root / name)
        (root / name / "results.json").write_text(json.dumps(_mutate(results, change)))
    for name, raw in RAW_RESULTS.items():
        shutil.copytree(good, root / name)
        data = (good / "results.json").read_bytes()[:200] if raw is None else raw
        (root / name / "results.json").write_bytes(data)
    for name, (file, content) in BROKEN_CSVS.items():
        shutil.copytree(good, root / name)
        (root / name / file).write_bytes(content)
    shutil.copytree(good, root / "requests_is_a_dir")
    (root / "requests_is_a_dir" / "requests.csv").unlink()
    (root / "requests_is_a_dir" / "requests.csv").mkdir()
    shutil.copytree(good, root / "results_is_a_dir")
    (root / "results_is_a_dir" / "results.json").unlink()
    (root / "results_is_a_dir" / "results.json").mkdir()
    (root / "empty").mkdir()
    (root / "adir").mkdir()
    hidden = root / "no-plugins" / "locust_plugins"  # -i is then perflab's own, not the plugin's
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ModuleNotFoundError(name='locust_plugins')\n")
    (root / "file").write_text("not a directory\n")
    for name, text in LOCUSTFILES.items():
        (root / name).write_text(text)
    (root / "not_utf8.py").write_bytes(b"x = '\xff'\n")
    (root / "nul.py").write_bytes(b"x = 1\x00\n")
    write_store(root / "probe.sqlite3")
    with sqlite3.connect(root / "app.sqlite3") as app_db:
        app_db.execute("CREATE TABLE blog_post (id INTEGER)")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that existed and is gone
    # The example, when no process has that id here (else the one that is gone).
    absent = "999999" if not psutil.pid_exists(999999) else str(dead.pid)
    return {"root": str(root), "run": str(good), "store": str(root / "probe.sqlite3"),
            "lf": str(root / "lf.py"), "dead_pid": str(dead.pid), "absent_pid": absent,
            "closed": str(free_port())}  # fmt: skip


@pytest.fixture(scope="module")
def target():
    """A listener on 127.0.0.1 that accepts and closes: reachable for the target check, and
    nothing in the table gets as far as sending it a request."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                connection.close()
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    listener.close()


# (id, arguments, exit code, what the one line says). {root} {run} {store} {lf} {host} {port}
# {closed} {dead_pid} {out} are filled in per case.
RUN = ["run", "--headless", "-f", "{lf}", "--host", "{host}", "-t", "2s", "--quiet", "--out",
       "{out}"]  # fmt: skip
CAPACITY = ["capacity", "-f", "{lf}", "--host", "{host}", "--hold", "1s", "--out", "{out}"]
REPORT = ["report", "--out", "{root}/adir/report.html"]
STORE = ["--store", "{store}"]
CASES = [
    # -- run: the target ----------------------------------------------------------------
    ("run host port too big", ["run", "-f", "{lf}", "--host", "http://127.0.0.1:99999"], 2,
     "'http://127.0.0.1:99999' is not a URL (Port out of range"),
    ("run host port negative", ["run", "-f", "{lf}", "--host", "http://127.0.0.1:-1"], 2,
     "is not a URL (Port could not be cast"),
    ("run host port not a number", ["run", "-f", "{lf}", "--host", "http://127.0.0.1:abc"], 2,
     "is not a URL (Port could not be cast"),
    ("run host ipv6 unclosed", ["run", "-f", "{lf}", "--host", "http://[::1"], 2,
     "is not a URL (Invalid IPv6 URL)"),
    ("run host without scheme", ["run", "-f", "{lf}", "--host", "127.0.0.1:8000"], 2,
     "--host must be a URL such as"),
    ("run host ftp", ["run", "-f", "{lf}", "--host", "ftp://127.0.0.1:21"], 2,
     "--host must be a URL such as"),
    ("run host empty", ["run", "-f", "{lf}", "--host", ""], 2, "--host must be a URL such as"),
    # Names refused before any resolver is asked (a label over 63 characters, an empty one):
    # an unknown name would be a DNS query leaving the machine.
    ("run host name unresolvable", ["run", "-f", "{lf}", "--host", f"https://{'a' * 64}.invalid"],
     2, f"cannot resolve {'a' * 64}.invalid: label empty or too long"),
    ("run host name empty label", ["run", "-f", "{lf}", "--host", "http://a..invalid"], 2,
     "cannot resolve a..invalid: label empty or too long"),
    ("run host name closed port", ["run", "-f", "{lf}", "--host", "http://localhost:{closed}"], 2,
     "is unreachable"),
    ("run host closed port", ["run", "-f", "{lf}", "--host", "http://127.0.0.1:{closed}"], 2,
     "is unreachable"),
    # -- run: the locustfile ----------------------------------------------------------------
    ("run locustfile missing", ["run", "-f", "{root}/nope.py", "--host", "{host}"], 2,
     "locustfile not found"),
    ("run locustfile a directory without one", ["run", "-f", "{root}/adir", "--host", "{host}"],
     2, "no .py locustfile in this directory"),
    ("run locustfile empty path", ["run", "-f", "", "--host", "{host}"], 2,
     "-f '': an empty locustfile name"),
    ("run locustfile url", ["run", "-f", "http://127.0.0.1:1/lf.py", "--host", "{host}"], 2,
     "download the locustfile first"),
    ("run locustfile syntax", [*RUN[:3], "{root}/syntax.py", *RUN[4:]], 2, "syntax error"),
    ("run locustfile truncated", [*RUN[:3], "{root}/truncated.py", *RUN[4:]], 2, "syntax error"),
    ("run locustfile raises", [*RUN[:3], "{root}/raises.py", *RUN[4:]], 2,
     "RuntimeError: boom"),
    ("run locustfile import error", [*RUN[:3], "{root}/imports.py", *RUN[4:]], 2,
     "ModuleNotFoundError"),
    ("run locustfile no user", [*RUN[:3], "{root}/no_user.py", *RUN[4:]], 2,
     "defines no runnable User class"),
    ("run locustfile not utf-8", [*RUN[:3], "{root}/not_utf8.py", *RUN[4:]], 2, "syntax error"),
    ("run locustfile NUL byte", [*RUN[:3], "{root}/nul.py", *RUN[4:]], 2, "null bytes"),
    ("run unknown user class", [*RUN, "NoSuchUser"], 2, "no user class NoSuchUser"),
    # -- run: numbers -----------------------------------------------------------------------
    # Locust's own parser reads -u -r -t -s (its types, its messages); perflab closes the ranges.
    ("run users 0", [*RUN, "-u", "0"], 2, "-u/--users must be from 1 to 1,000,000, got 0"),
    ("run users negative", [*RUN, "-u", "-1"], 2, "-u/--users must be from 1"),
    ("run users huge", [*RUN, "-u", "99999999999999999999"], 2, "-u/--users must be"),
    ("run users text", [*RUN, "-u", "abc"], 2, "argument -u/--users: invalid int value: 'abc'"),
    ("run spawn rate 0", [*RUN, "-r", "0"], 2, "argument -r/--spawn-rate: must be > 0"),
    ("run spawn rate negative", [*RUN, "-r", "-1"], 2, "argument -r/--spawn-rate: must be > 0"),
    ("run spawn rate nan", [*RUN, "-r", "nan"], 2, "argument -r/--spawn-rate: must be a finite"),
    ("run spawn rate inf", [*RUN, "-r", "inf"], 2, "argument -r/--spawn-rate: must be a finite"),
    ("run spawn rate huge", [*RUN, "-r", "1e9"], 2, "-r/--spawn-rate must be at most 1,000,000"),
    ("run spawn rate text", [*RUN, "-r", "abc"], 2, "argument -r/--spawn-rate: invalid"),
    ("run time 0", [*RUN, "-t", "0"], 2, "-t/--run-time must be between 1s and 7 days, got 0s"),
    ("run time below 1s", [*RUN, "-t", "0.5s"], 2, "argument -t/--run-time: Invalid time span"),
    ("run time negative", [*RUN, "-t", "-1"], 2, "argument -t/--run-time: Invalid time span"),
    ("run time text", [*RUN, "-t", "soon"], 2, "argument -t/--run-time: Invalid time span"),
    ("run time days", [*RUN, "-t", "8d"], 2, "argument -t/--run-time: Invalid time span"),
    ("run time huge", [*RUN, "-t", "99999999h"], 2, "-t/--run-time must be between 1s and 7 days"),
    ("run time empty", [*RUN, "-t", ""], 2, "argument -t/--run-time: Invalid time span"),
    ("run stop timeout negative", [*RUN, "--stop-timeout", "-1"], 2,
     "argument -s/--stop-timeout: Invalid time span"),
    ("run stop timeout huge", [*RUN, "--stop-timeout", "2h"], 2,
     "--stop-timeout must be from 0 to 3600s, got 7200s"),
    ("run stop timeout text", [*RUN, "--stop-timeout", "abc"], 2,
     "argument -s/--stop-timeout: Invalid time span"),
    ("run max in flight 0", [*RUN, "--max-in-flight", "0"], 2, "argument --max-in-flight"),
    ("run max in flight huge", [*RUN, "--max-in-flight", "999999999"], 2,
     "argument --max-in-flight: must be from 1 to 100,000"),
    # -- run: load model ------------------------------------------------------------------
    ("run shape unknown", [*RUN, "--shape", "zigzag"], 2, 'unknown shape "zigzag"'),
    ("run shape bad parameter", [*RUN, "--shape", "ramp:bad=1"], 2, 'has no parameter "bad"'),
    ("run shape zero steps", [*RUN, "--shape", "step:steps=0"], 2, "steps=0 must be at least 1"),
    ("run shape file missing", [*RUN, "--shape", "{root}/nope.py:X"], 2, "not found"),
    ("run shape class not a shape", [*RUN, "--shape", "{lf}:U"], 2,
     "is not a LoadTestShape subclass"),
    ("run shape factor nan", [*RUN, "--shape", "stress:factor=nan"], 2,
     "factor=nan must be above 1 and at most 100"),
    ("run shape factor inf", [*RUN, "--shape", "stress:factor=inf"], 2, "factor=inf must be"),
    ("run shape duration huge", [*RUN, "--shape", "ramp:ramp=1e400"], 2,
     "ramp=1e400 is not a duration"),
    ("run workers on a taken master port",
     [*RUN, "--workers", "2", "--master-bind-port", "{port}"], 2,
     "port {port} on 127.0.0.1 is already in use"),
    ("run shape needs a run time", ["run", "--headless", "-f", "{lf}", "--host", "{host}",
     "--shape", "ramp", "--quiet"], 2, "--shape ramp needs -t/--run-time"),
    ("run web with an arrival rate", ["run", "-f", "{lf}", "--host", "{host}",
     "--arrival-rate", "5"], 2, "--arrival-rate runs headless: add --headless"),
    ("run unknown option", [*RUN, "--usres", "3"], 2,
     "unrecognized arguments: --usres (did you mean --users?)"),
    ("run iterations with workers", [*RUN, "-i", "10", "--workers", "2"], 2,
     "-i/--iterations counts in one process: run it without workers",
     {"PYTHONPATH": "{root}/no-plugins"}),
    ("run csv history without csv", [*RUN, "--csv-full-history"], 2,
     "'--csv-full-history' requires '--csv'"),
    ("run shape and rate", [*RUN, "--shape", "ramp", "--arrival-rate", "5"], 2,
     "--shape and --arrival-rate exclude each other"),
    ("run rate 0", [*RUN, "--arrival-rate", "0"], 2, "rates must be above 0/s"),
    ("run rate negative", [*RUN, "--arrival-rate", "-1"], 2, "rates must be above 0/s"),
    ("run rate nan", [*RUN, "--arrival-rate", "nan"], 2, "is not a number of /s"),
    ("run rate inf", [*RUN, "--arrival-rate", "inf"], 2, "is not a number of /s"),
    ("run rate huge", [*RUN, "--arrival-rate", "1e308"], 2, "above the 100000/s limit"),
    ("run rate ramp incomplete", [*RUN, "--arrival-rate", "10:200"], 2, "invalid --arrival-rate"),
    ("run rate ramp of 0s", [*RUN, "--arrival-rate", "10:200:0s"], 2, "needs a duration > 0"),
    # -- run: outputs and the store ---------------------------------------------------------
    ("run out is a file", [*RUN[:-1], "{root}/file"], 2, "cannot write the run directory"),
    ("run out under a file", [*RUN[:-1], "{root}/file/run"], 2,
     "cannot write the run directory"),
    ("run out empty", [*RUN[:-1], ""], 2, "argument --out: must not be empty"),
    ("run store missing", [*RUN, "--store", "{root}/typo.sqlite3"], 2, "no such file"),
    ("run store a directory", [*RUN, "--store", "{root}/adir"], 2, "is a directory"),
    ("run store the app's database", [*RUN, "--store", "{root}/app.sqlite3"], 2,
     "not a probe store"),
    ("run store a text file", [*RUN, "--store", "{root}/lf.py"], 2, "not a probe store"),
    # -- run: server watch ------------------------------------------------------------------
    ("run server pid negative", [*RUN, "--server-pid", "-1"], 2,
     "argument --server-pid: expected a process id, got '-1'"),
    ("run server pid 0", [*RUN, "--server-pid", "0"], 2, "argument --server-pid"),
    ("run server pid huge", [*RUN, "--server-pid", "99999999999999999999"], 2,
     "argument --server-pid: expected a process id"),
    ("run server pid text", [*RUN, "--server-pid", "abc"], 2, "argument --server-pid"),
    ("run server pid of no process", [*RUN, "--server-pid", "{dead_pid}"], 2,
     "--server-pid {dead_pid}: no such process"),
    ("run server pid 999999", [*RUN, "--server-pid", "{absent_pid}"], 2,
     "--server-pid {absent_pid}: no such process"),
    ("run server pid above pid_max", [*RUN, "--server-pid", "99999999"], 2,
     "--server-pid 99999999: no such process"),
    # -- run: SLOs --------------------------------------------------------------------------
    ("run label not utf-8", [*RUN, "--label", "\udcff"], 2,
     "argument --label: '\\udcff' is not UTF-8 text"),
    ("run data volume not utf-8", [*RUN, "--data-volume", "\udcff"], 2,
     "argument --data-volume"),
    ("run slo nonsense", [*RUN, "--slo", "p95<<200"], 2, 'bad SLO "p95<<200"'),
    ("run slo negative", [*RUN, "--slo", "p95<-1ms"], 2, 'bad SLO "p95<-1ms"'),
    ("run slo empty", [*RUN, "--slo", ""], 2, 'bad SLO ""'),
    ("run slo error rate over 100%", [*RUN, "--slo", "error_rate<200%"], 2, "is over 100%"),
    # -- run: distributed -------------------------------------------------------------------
    ("run workers negative", [*RUN, "--workers", "-1"], 2, "argument --workers: must be"),
    ("run workers too many", [*RUN, "--workers", "257"], 2, "argument --workers: must be"),
    ("run workers text", [*RUN, "--workers", "abc"], 2, "argument --workers: expected"),
    ("run master and workers", [*RUN, "--master", "--workers", "2"], 2,
     "choose one of --workers N (or --processes N), --master and --worker"),
    ("run processes and master", [*RUN, "--master", "--processes", "2"], 2,
     "choose one of --workers N (or --processes N), --master and --worker"),
    ("run processes below -1", [*RUN, "--processes", "-2"], 2,
     "--processes must be -1 or from 1 to 256, got -2"),
    ("run expect 0 workers", [*RUN, "--master", "--expect-workers", "0"], 2,
     "argument --expect-workers: Invalid --expect-workers argument (0), must be a positive"),
    ("run expect negative workers", [*RUN, "--master", "--expect-workers", "-1"], 2,
     "argument --expect-workers"),
    ("run master port 0", [*RUN, "--master", "--master-bind-port", "0"], 2,
     "--master-bind-port must be from 1 to 65,535, got 0"),
    ("run master port negative", [*RUN, "--master", "--master-bind-port", "-1"], 2,
     "--master-bind-port must be from 1 to 65,535"),
    ("run master port too big", [*RUN, "--master", "--master-bind-port", "70000"], 2,
     "--master-bind-port must be from 1 to 65,535"),
    ("run worker port too big", [*RUN, "--worker", "--master-port", "70000"], 2,
     "--master-port must be from 1 to 65,535"),
    ("run master port taken", [*RUN, "--master", "--master-bind-port", "{port}"], 2,
     "--master-bind-host/--master-bind-port: port {port} on 127.0.0.1 is already in use"),
    ("run master bind unknown",
     [*RUN, "--master", "--master-bind-host", "a..invalid"], 2,
     "--master-bind-host/--master-bind-port: cannot resolve a..invalid: label empty or too"),
    ("run worker of an unknown master",
     [*RUN, "--worker", "--master-host", "a..invalid"], 2,  # refused before any resolver
     "--master-host: cannot resolve a..invalid: label empty or too long"),
    # -- capacity ---------------------------------------------------------------------------
    ("capacity start rate 0", [*CAPACITY, "--start-rate", "0"], 2,
     "argument --start-rate: must be above 0 to 100000"),
    ("capacity start rate negative", [*CAPACITY, "--start-rate", "-1"], 2, "--start-rate"),
    ("capacity start rate nan", [*CAPACITY, "--start-rate", "nan"], 2, "--start-rate"),
    ("capacity start rate inf", [*CAPACITY, "--start-rate", "inf"], 2, "--start-rate"),
    ("capacity start rate huge", [*CAPACITY, "--start-rate", "1e308"], 2, "--start-rate"),
    ("capacity step factor 1", [*CAPACITY, "--step-factor", "1"], 2,
     "argument --step-factor: must be above 1"),
    ("capacity step factor below 1", [*CAPACITY, "--step-factor", "0.5"], 2, "--step-factor"),
    ("capacity step factor nan", [*CAPACITY, "--step-factor", "nan"], 2, "--step-factor"),
    ("capacity step factor inf", [*CAPACITY, "--step-factor", "inf"], 2, "--step-factor"),
    ("capacity step 0", [*CAPACITY, "--step", "0"], 2, "argument --step: must be above 0"),
    ("capacity step inf", [*CAPACITY, "--step", "inf"], 2, "argument --step"),
    ("capacity max rate nan", [*CAPACITY, "--max-rate", "nan"], 2, "argument --max-rate"),
    ("capacity max rate below start", [*CAPACITY, "--max-rate", "1"], 2,
     "--max-rate must not be below --start-rate"),
    ("capacity max steps 0", [*CAPACITY, "--max-steps", "0"], 2, "argument --max-steps"),
    ("capacity max steps huge", [*CAPACITY, "--max-steps", "99999999999999999999"], 2,
     "argument --max-steps"),
    ("capacity bisect steps negative", [*CAPACITY, "--bisect-steps", "-1"], 2,
     "argument --bisect-steps"),
    ("capacity bisect steps too many", [*CAPACITY, "--bisect-steps", "21"], 2,
     "argument --bisect-steps"),
    ("capacity max in flight 0", [*CAPACITY, "--max-in-flight", "0"], 2,
     "argument --max-in-flight"),
    ("capacity hold 0", [*CAPACITY, "--hold", "0"], 2, "--hold must be between 1s and 1h"),
    ("capacity hold too long", [*CAPACITY, "--hold", "2h"], 2, "--hold must be between"),
    ("capacity hold text", [*CAPACITY, "--hold", "abc"], 2, 'bad duration "abc"'),
    ("capacity out an existing file", [*CAPACITY[:-1], "{root}/file"], 2,
     "--out {root}/file: exists and is not a directory"),
    ("capacity out under a file", [*CAPACITY[:-1], "{root}/file/cap"], 2,
     "--out {root}/file/cap: cannot create it"),
    ("capacity server pid negative", [*CAPACITY, "--server-pid", "-1"], 2,
     "argument --server-pid"),
    ("capacity server pid huge", [*CAPACITY, "--server-pid", "99999999999999999999"], 2,
     "argument --server-pid"),
    ("capacity server pid of no process", [*CAPACITY, "--server-pid", "{dead_pid}"], 2,
     "--server-pid {dead_pid}: no such process"),
    ("capacity host port too big",
     ["capacity", "-f", "{lf}", "--host", "http://127.0.0.1:99999"], 2, "is not a URL"),
    ("capacity host closed port",
     ["capacity", "-f", "{lf}", "--host", "http://127.0.0.1:{closed}"], 2, "is unreachable"),
    ("capacity slo nonsense", [*CAPACITY, "--slo", "p95<fast"], 2, 'bad SLO "p95<fast"'),
    ("capacity locustfile missing", [*CAPACITY[:2], "{root}/nope.py", *CAPACITY[3:]], 2,
     "locustfile not found"),
    # -- report: the run and where the report goes ------------------------------------------
    ("report run missing", [*REPORT, "{root}/nope"], 2, "no run directory at"),
    ("report not a run", [*REPORT, "{root}/empty"], 2, "no results.json in"),
    ("report a text file", [*REPORT, "{lf}"], 2, "cannot read"),
    ("report results.json a directory", [*REPORT, "{root}/results_is_a_dir"], 2,
     "cannot read"),
    ("report out in a missing directory", ["report", "{run}", "-o", "{root}/no/dir/r.html"], 2,
     "the directory {root}/no/dir does not exist"),
    ("report out is a directory", ["report", "{run}", "-o", "{root}/adir"], 2,
     "is a directory (name the file to write)"),
    ("report out under a file", ["report", "{run}", "-o", "{root}/file/r.html"], 2,
     "the directory {root}/file is not a directory"),
    ("report out empty", ["report", "{run}", "-o", ""], 2, "argument -o/--out: must not be"),
    ("report store missing", [*REPORT, "{run}", "--store", "{root}/typo.sqlite3"], 2,
     "no probe store at"),
    ("report store a directory", [*REPORT, "{run}", "--store", "{root}/adir"], 2,
     "no probe store at"),
    ("report store the app's database", [*REPORT, "{run}", "--store", "{root}/app.sqlite3"], 2,
     "not a probe store"),
    ("report store a text file", [*REPORT, "{run}", "--store", "{lf}"], 2, "not a probe store"),
    # -- compare ----------------------------------------------------------------------------
    ("compare run missing", ["compare", "{run}", "{root}/nope"], 2, "no results.json in"),
    ("compare min requests negative", ["compare", "{run}", "{run}", "--min-requests", "-1"], 2,
     "--min-requests must be 0 or more"),
    ("compare min requests text", ["compare", "{run}", "{run}", "--min-requests", "x"], 2,
     "argument --min-requests"),
    ("compare limits nonsense", ["compare", "{run}", "{run}", "--max-regression", "p95>1%"], 2,
     'bad --max-regression "p95>1%"'),
    ("compare limits nan", ["compare", "{run}", "{run}", "--max-regression", "p95=nan%"], 2,
     "bad --max-regression"),
    ("compare limit without store", ["compare", "{run}", "{run}", "--max-regression",
                                     "queries=0"], 2, "needs the probe store of both runs"),
    ("compare format unknown", ["compare", "{run}", "{run}", "--format", "xml"], 2,
     "argument --format: invalid choice"),
    ("compare base store a directory",
     ["compare", "{run}", "{run}", "--base-store", "{root}/adir"], 2, "probe store not found"),
    ("compare new store the app's database",
     ["compare", "{run}", "{run}", "--new-store", "{root}/app.sqlite3"], 2, "not a probe store"),
    ("compare non-utf-8 sample with a store",
     ["compare", "{run}", "{root}/requests_not_utf8", "--new-store", "{store}"], 2,
     "requests.csv as CSV: 'utf-8' codec can't decode"),
    # -- inspect ----------------------------------------------------------------------------
    ("inspect request id beyond sqlite",
     ["inspect", "request", "99999999999999999999", *STORE], 2,
     "no recorded request '99999999999999999999'"),
    ("inspect request id of 5000 digits", ["inspect", "request", "1" * 5000, *STORE], 2,
     "no recorded request"),
    ("inspect request id superscript digit", ["inspect", "request", "²", *STORE], 2,
     "no recorded request '²'"),
    ("inspect request id not utf-8", ["inspect", "request", "\udcff", *STORE], 2,
     "argument id: '\\udcff' is not UTF-8 text"),
    ("inspect route not utf-8", ["inspect", "findings", "--route", "\udcff", *STORE], 2,
     "argument --route: '\\udcff' is not UTF-8 text"),
    ("inspect path not utf-8", ["inspect", "requests", "--path", "/\udcff", *STORE], 2,
     "argument --path"),
    ("inspect request without id", ["inspect", "request", *STORE], 2,
     "needs a row id or an X-Request-ID"),
    ("inspect id for another view", ["inspect", "routes", "5", *STORE], 2,
     "`perflab inspect routes` takes no ID"),
    ("inspect limit 0", ["inspect", "routes", "--limit", "0", *STORE], 2,
     "argument --limit: must be from 1"),
    ("inspect limit negative", ["inspect", "sql", "--limit", "-1", *STORE], 2,
     "argument --limit"),
    ("inspect limit beyond sqlite", ["inspect", "requests", "--limit",
                                     "99999999999999999999", *STORE], 2, "argument --limit"),
    ("inspect limit text", ["inspect", "findings", "--limit", "abc", *STORE], 2,
     "argument --limit: expected a whole number"),
    ("inspect minutes negative", ["inspect", "routes", "--minutes", "-5", *STORE], 2,
     "argument --minutes: must be above 0"),
    ("inspect minutes 0", ["inspect", "routes", "--minutes", "0", *STORE], 2,
     "argument --minutes"),
    ("inspect minutes nan", ["inspect", "routes", "--minutes", "nan", *STORE], 2,
     "argument --minutes"),
    ("inspect minutes inf", ["inspect", "routes", "--minutes", "inf", *STORE], 2,
     "argument --minutes"),
    ("inspect minutes text", ["inspect", "routes", "--minutes", "abc", *STORE], 2,
     "argument --minutes: expected a number"),
    ("inspect minutes for one request", ["inspect", "request", "1", "--minutes", "5", *STORE],
     2, "--minutes filters the listings, not `perflab inspect request`"),
    ("inspect route for routes", ["inspect", "routes", "--route", "x", *STORE], 2,
     "--route filters `perflab inspect requests|sql|findings` only"),
    ("inspect path for routes", ["inspect", "routes", "--path", "/a", *STORE], 2,
     "--path filters `perflab inspect requests` only"),
    ("inspect path with a star inside", ["inspect", "requests", "--path", "/a*b", *STORE], 2,
     "--path takes a path, or a prefix ending in *"),
    ("inspect path with a query", ["inspect", "requests", "--path", "/a?b", *STORE], 2,
     "without its query string"),
    ("inspect view unknown", ["inspect", "everything", *STORE], 2, "invalid choice"),
    ("inspect store missing", ["inspect", "routes", "--store", "{root}/typo.sqlite3"], 2,
     "no probe store at"),
    ("inspect store a directory", ["inspect", "routes", "--store", "{root}/adir"], 2,
     "no probe store at"),
    ("inspect store the app's database", ["inspect", "routes", "--store", "{root}/app.sqlite3"],
     2, "not a probe store"),
    ("inspect default store missing", ["inspect", "routes"], 2, "serve the app with the probe"),
    ("inspect settings module missing", ["inspect", "routes"], 2,
     "cannot read the store from DJANGO_SETTINGS_MODULE=no_such_project.settings",
     {"DJANGO_SETTINGS_MODULE": "no_such_project.settings"}),
    # -- seed, serve, demo ------------------------------------------------------------------
    ("seed posts negative", ["seed", "--posts", "-1"], 2, "argument --posts: must be from 0"),
    ("seed posts huge", ["seed", "--posts", "99999999999999999999"], 2, "argument --posts"),
    ("seed posts text", ["seed", "--posts", "many"], 2, "argument --posts: expected a whole"),
    ("seed users 0", ["seed", "--users", "0"], 2, "argument --users: must be from 1"),
    ("seed users huge", ["seed", "--users", "99999999999999999999"], 2, "argument --users"),
    ("seed batch size 0", ["seed", "--batch-size", "0"], 2, "argument --batch-size"),
    ("seed batch size huge", ["seed", "--batch-size", "99999999999999999999"], 2,
     "argument --batch-size"),
    ("seed db unknown scheme", ["seed", "--db", "nosuch://x/y"], 2, "is not a database URL"),
    ("seed db empty", ["seed", "--db", ""], 2, "argument --db: must not be empty"),
    ("seed db port too big", ["seed", "--db", "postgres://u:pw@127.0.0.1:99999/db"], 2,
     "is not a database URL"),
    ("seed db a directory", ["seed", "--db", "sqlite:///{root}/adir"], 2,
     "cannot use the database"),
    ("seed db a text file", ["seed", "--db", "sqlite:///{lf}"], 2, "file is not a database"),
    ("seed db under a file", ["seed", "--db", "sqlite:///{root}/file/x.sqlite3"], 2,
     "cannot create the SQLite directory"),
    ("seed data directory a file", ["seed", "--posts", "1"], 2,
     "the data directory {root}/file is not a directory", {"PERFLAB_DATA_DIR": "{root}/file"}),
    ("serve port 0", ["serve", "--port", "0"], 2, "argument --port: must be from 1 to 65,535"),
    ("serve port negative", ["serve", "--port", "-1"], 2, "argument --port"),
    ("serve port too big", ["serve", "--port", "70000"], 2, "argument --port"),
    ("serve port text", ["serve", "--port", "http"], 2, "argument --port: expected a whole"),
    ("serve port taken", ["serve", "--port", "{port}"], 2,
     "port {port} on 127.0.0.1 is already in use"),
    ("serve workers 0", ["serve", "--workers", "0"], 2, "argument --workers: must be from 1"),
    ("serve workers huge", ["serve", "--workers", "99999999999999999999"], 2,
     "argument --workers: must be from 1 to 256"),
    ("serve workers thousands", ["serve", "--workers", "100000"], 2, "argument --workers"),
    ("serve threads 0", ["serve", "--threads", "0"], 2, "argument --threads: must be from 1"),
    ("serve threads huge", ["serve", "--threads", "99999999999999999999"], 2,
     "argument --threads"),
    ("serve host not loopback", ["serve", "--host", "0.0.0.0"], 2, "invalid choice"),
    ("serve silk unknown", ["serve", "--silk", "x"], 2, "invalid choice"),
    ("serve toolbar without dev", ["serve", "--toolbar", "--port", "{closed}"], 2,
     "needs --dev"),
    ("serve db unknown scheme", ["serve", "--db", "nosuch://x", "--port", "{closed}"], 2,
     "is not a database URL"),
    ("serve db empty", ["serve", "--db", ""], 2, "argument --db: must not be empty"),
    ("serve data directory a file", ["serve", "--port", "{closed}"], 2,
     "the data directory {root}/file is not a directory", {"PERFLAB_DATA_DIR": "{root}/file"}),
    ("demo posts negative", ["demo", "--posts", "-1"], 2, "argument --posts"),
    ("demo users 0", ["demo", "--users", "0"], 2, "argument --users: must be from 1"),
    ("demo users huge", ["demo", "--users", "99999999999999999999"], 2, "argument --users"),
    ("demo duration 0", ["demo", "--duration", "0"], 2, "argument --duration: must be from 1"),
    ("demo duration negative", ["demo", "--duration", "-1"], 2, "argument --duration"),
    ("demo duration huge", ["demo", "--duration", "99999999999999999999"], 2,
     "argument --duration"),
    ("demo workers 0", ["demo", "--workers", "0"], 2, "argument --workers"),
    ("demo threads 0", ["demo", "--threads", "0"], 2, "argument --threads"),
    ("demo db unknown scheme", ["demo", "--db", "nosuch://x"], 2, "is not a database URL"),
    ("demo data directory a file", ["demo"], 2,
     "the data directory {root}/file is not a directory", {"PERFLAB_DATA_DIR": "{root}/file"}),
    # -- the command itself -----------------------------------------------------------------
    ("no command", [], 2, "the following arguments are required: COMMAND"),
    ("unknown command", ["bench"], 2, "invalid choice: 'bench'"),
    ("run without its arguments", ["run"], 2, "locustfile not found: locustfile.py"),
]  # fmt: skip
# Every broken results.json and CSV, read by report; a sample of them by compare (both go
# through load_results).
CASES += [(f"report {name}", [*REPORT, f"{{root}}/{name}"], 2, "is not a valid perflab.results/1")
          for name in BROKEN_RESULTS]  # fmt: skip
CASES += [(f"compare {name}", ["compare", "{run}", f"{{root}}/{name}"], 2,
           "is not a valid perflab.results/1")
          for name in ("no_totals", "totals_text", "totals_p95_text", "endpoint_name_number",
                       "started_at_words", "duration_text", "probe_store_number")]  # fmt: skip
RAW_MESSAGES = {"results_array": "is not a perflab.results/1 file",
                "results_other_schema": "is not a perflab.results/1 file",
                "results_too_deep": "JSON nested too deeply"}  # fmt: skip
CASES += [(f"report {name}", [*REPORT, f"{{root}}/{name}"], 2,
           RAW_MESSAGES.get(name, "cannot read"))
          for name in RAW_RESULTS]  # fmt: skip
CASES += [(f"report {name}", [*REPORT, f"{{root}}/{name}"], 2, f"{file} as CSV")
          for name, (file, _) in [*BROKEN_CSVS.items(),
                                  ("requests_is_a_dir", ("requests.csv", b""))]]  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(
    fx, target, tmp_path_factory
) -> dict[str, tuple[subprocess.CompletedProcess | str, Path]]:
    """Every case run once, four at a time: {id: (its finished process, or why it did not;
    the run or capacity directory it was given, which must not have been made)}."""
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    base.pop("LOCUST_SKIP_MONKEY_PATCH", None)  # `perflab run` patches for itself
    outs = tmp_path_factory.mktemp("outs")
    values = {**fx, "host": f"http://127.0.0.1:{target}", "port": str(target)}

    def run(case) -> tuple[str, tuple[subprocess.CompletedProcess | str, Path]]:
        name, argv, _code, _words, *env = case
        data_dir = outs / name.replace(" ", "-").replace("/", "-") / "data"
        out = data_dir.parent / "out"
        fill = {**values, "out": str(out)}
        extra = {k: v.format(**fill) for k, v in (env[0] if env else {}).items()}
        command = [sys.executable, "-m", "perflab", *(a.format(**fill) for a in argv)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=CASE_TIMEOUT_S,
                stdin=subprocess.DEVNULL, env={**base, "PERFLAB_DATA_DIR": str(data_dir), **extra},
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            done = f"still running after {CASE_TIMEOUT_S}s"
        return name, (done, out)

    with ThreadPoolExecutor(THREADS) as pool:
        return dict(pool.map(run, CASES))


def test_every_case_has_its_own_name():
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("name", "code", "words"), [case[:1] + case[2:4] for case in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line_with_its_exit_code(outcomes, fx, target, name, code, words):
    done, out = outcomes[name]
    assert not isinstance(done, str), done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr[-3000:]
    assert done.returncode == code, done.stderr
    expected = words.format(**fx, port=target)
    assert expected in lines[0], lines[0]
    assert not out.exists()  # refused before a run or capacity directory was made
    assert not Path(fx["root"], "adir", "report.html").exists()
