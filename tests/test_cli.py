"""Bad input to `perflab seed` and `perflab serve`: one line on stderr, exit code 2; SIGTERM
ends a command as Ctrl-C does."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from importlib import metadata
from pathlib import Path

import psutil
import pytest

from perflab.cli import COMMANDS, DISTRIBUTION, missing_requirements
from perflab.errors import ExitCode
from perflab.server import free_port
from perflab.testing.latency_server import LatencyServer


def perflab(*args: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "perflab", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PERFLAB_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )


def assert_one_line_error(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert expected in lines[0]


@pytest.fixture
def closed_port():
    return free_port()  # nothing listens there


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["seed", "--posts", "-5"], "argument --posts: must be from 0 to 10,000,000, got -5"),
        (["seed", "--users", "0"], "argument --users: must be from 1 to 100,000, got 0"),
        (["seed", "--posts", "many"], "argument --posts: expected a whole number, got 'many'"),
        (["seed", "--db", "nosuch://x/y"], "is not a database URL"),
        (["serve", "--workers", "0"], "argument --workers: must be from 1 to 256, got 0"),
        (["serve", "--port", "70000"], "argument --port: must be from 1 to 65,535, got 70000"),
        (["serve", "--host", "0.0.0.0"], "invalid choice"),
        (["serve", "--toolbar"], "needs --dev"),
        (["demo", "--duration", "0"], "argument --duration: must be from 1 to 86,400, got 0"),
    ],
)
def test_bad_arguments(args, expected, tmp_path):
    assert_one_line_error(perflab(*args, tmp_path=tmp_path), expected)


@pytest.mark.parametrize("command", ["seed", "serve"])
def test_unreachable_database(command, closed_port, tmp_path):
    url = f"postgres://perflab:hunter2@127.0.0.1:{closed_port}/blog"
    args = [command, "--db", url] + (["--port", str(free_port())] if command == "serve" else [])
    result = perflab(*args, tmp_path=tmp_path)
    assert_one_line_error(result, "cannot use the database")
    assert "hunter2" not in result.stderr


def test_serve_on_a_taken_port(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = perflab("serve", "--port", str(port), tmp_path=tmp_path)
    assert_one_line_error(result, f"port {port} on 127.0.0.1 is already in use")


def test_seed_reports_rows_per_second(tmp_path):
    result = perflab("seed", "--posts", "500", "--users", "5", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "seeded 500 posts" in result.stdout
    assert "rows/s" in result.stdout
    assert (tmp_path / "demo.sqlite3").exists()


def test_sigterm_ends_a_command_as_ctrl_c_does(tmp_path):
    """capacity's step is a child process: a SIGTERM that killed capacity on the spot left it
    running and wrote no capacity.json. Now: the step is ended, capacity.json says
    "interrupted", exit 130."""
    server = LatencyServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    locustfile = tmp_path / "lf.py"
    locustfile.write_text(
        "from locust import HttpUser, task\n\nclass U(HttpUser):\n"
        "    @task\n    def t(self):\n        self.client.get('/')\n"
    )
    out = tmp_path / "capacity"
    process = subprocess.Popen(
        [sys.executable, "-m", "perflab", "capacity", "-f", str(locustfile), "--host",
         f"http://127.0.0.1:{server.port}", "--hold", "60s", "--start-rate", "5",
         "--max-steps", "1", "--bisect-steps", "0", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    steps: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while not (steps := psutil.Process(process.pid).children()):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        _gone, alive = psutil.wait_procs(steps, timeout=10)
    finally:
        server.shutdown()
        if process.poll() is None:
            process.kill()
        for leftover in psutil.wait_procs(steps, timeout=0)[1]:
            leftover.kill()  # what a failing command left behind must not outlive the test
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["perflab: interrupted"]
    assert not alive
    assert json.loads((out / "capacity.json").read_text())["status"] == "interrupted"


def test_every_command_names_an_extra_pyproject_declares_and_installed_here():
    """A misspelt extra would read as installed and fail on an import instead of a hint."""
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    assert {command.extra for command in COMMANDS} <= set(extras)
    installed = metadata.requires(DISTRIBUTION)  # what the check reads: pyproject, installed
    for extra in {command.extra for command in COMMANDS}:
        assert any(f'extra == "{extra}"' in requirement for requirement in installed), extra
    assert {command.name for command in COMMANDS if missing_requirements(command.extra)} == set()


def test_a_package_of_the_extra_missing_despite_the_metadata_is_one_line(tmp_path):
    """An environment whose metadata lists the load extra but lacks one of its packages (an
    editable install older than pyproject.toml) gets the install line, not a traceback."""
    blocked = tmp_path / "blocked" / "msgspec"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'msgspec'\", name='msgspec')\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{blocked.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "perflab", "report", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == ExitCode.MISSING_EXTRA, result.stderr
    assert result.stderr == (
        "perflab: error: perflab report cannot import msgspec: pip install 'django-perflab[load]'\n"
    )


def test_a_missing_module_that_is_not_the_extras_gets_no_install_line(tmp_path):
    """A module no extra provides (a project's own, missing) is named as missing, without a
    ``pip install`` of perflab that would not bring it."""
    blocked = tmp_path / "blocked" / "rich"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'nowhere_app'\", name='nowhere_app')\n"
    )
    path = os.pathsep.join(filter(None, [str(blocked.parent), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "perflab", "report", str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == ExitCode.MISSING_EXTRA, result.stderr
    assert result.stderr == (
        "perflab: error: perflab report cannot import nowhere_app: No module named 'nowhere_app'\n"
    )
