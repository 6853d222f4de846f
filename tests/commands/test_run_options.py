"""`perflab run`'s command line is Locust's parser with perflab's group on top: help shows them
apart, perflab's options come from Locust's config files too, and a locustfile's option of
the same name as perflab's keeps its name. (What plain `locust` and `perflab run` do alike is
tests/integration/compat.)"""

import json
import os
import subprocess
import sys

import pytest

from tests.integration.compat.conftest import target  # noqa: F401 - the loopback server

pytestmark = pytest.mark.integration

LOCUSTFILE = """
from locust import HttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--shelf", default="top", help="which shelf to read")
    parser.add_argument("--label", default="unlabelled", help="the locustfile's own label")


class Reader(HttpUser):
    wait_time = constant(0.2)

    @task
    def read(self):
        options = self.environment.parsed_options
        self.client.get(f"/{options.shelf}/{options.label}")
"""


def perflab_run(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    environment.pop("LOCUST_SKIP_MONKEY_PATCH", None)
    return subprocess.run(
        [sys.executable, "-m", "perflab", "run", *args], cwd=cwd, capture_output=True,
        text=True, timeout=60, env={**environment, **(env or {})},
    )  # fmt: skip


def test_help_shows_locusts_options_the_locustfiles_and_perflabs_apart(tmp_path):
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    result = perflab_run("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    groups = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert "Common options:" in groups and "Web UI options:" in groups
    assert "perflab options (beyond Locust's):" in groups
    locusts, perflabs = text.split("Common options:")[1].split("perflab options (beyond Locust's):")
    perflabs = perflabs.split("Examples:")[0]
    assert "--shelf" in locusts and "which shelf to read" in locusts  # the locustfile's
    assert "--headless" in locusts and "--csv" in locusts and "--slo" not in locusts
    assert "--slo" in perflabs and "--arrival-rate" in perflabs and "--headless" not in perflabs
    # The locustfile took --label: perflab's is --perflab-label, said in a note before a run.
    assert "--perflab-label" in perflabs


def test_config_file_environment_and_command_line_in_locusts_order(tmp_path, target):  # noqa: F811
    """locust.conf < LOCUST_* < the command line, perflab's options in the same file."""
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    (tmp_path / "locust.conf").write_text(
        f"host = {target}\nusers = 2\nspawn-rate = 2\nrun-time = 2s\nheadless = true\n"
        "shelf = middle\nperflab-label = from-conf\nquiet = true\nout = conf-run\n"
    )
    result = perflab_run(cwd=tmp_path, env={"LOCUST_USERS": "3"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note: the locustfile's --label is its own; perflab's is --perflab-label" in (
        result.stdout
    )
    run = tmp_path / "conf-run"
    results = json.loads((run / "results.json").read_text())
    settings = json.loads((run / "settings.json").read_text())
    assert results["label"] == "from-conf" and settings["users"] == 3 and settings["quiet"]
    assert {e["name"] for e in results["endpoints"]} == {"/middle/unlabelled"}
    again = perflab_run("--shelf", "low", "--label", "mine", "-u", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    results = json.loads((run / "results.json").read_text())
    assert {e["name"] for e in results["endpoints"]} == {"/low/mine"}
    assert json.loads((run / "settings.json").read_text())["users"] == 1


def test_a_bad_log_level_and_a_taken_web_port_are_one_line(tmp_path, target):  # noqa: F811
    import socket

    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    bad_level = perflab_run("--headless", "-H", target, "-t", "1s", "-L", "LOUD", cwd=tmp_path)
    assert bad_level.returncode == 2
    assert bad_level.stderr.strip() == (
        "perflab run: error: argument --loglevel/-L: invalid choice: 'LOUD' (choose from "
        "'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        web = perflab_run("-H", target, "--web-port", str(port), cwd=tmp_path)
    assert web.returncode == 2
    assert web.stderr.strip().splitlines() == [
        f"perflab: error: --web-host/--web-port: port {port} on 127.0.0.1 is already in use"
    ]


def test_an_http_user_without_a_host_is_one_line(tmp_path):
    """HttpUser and FastHttpUser need a host (Locust fails each user at spawn without one):
    one line before anything starts. A plain User needs none (tests/integration/compat)."""
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    result = perflab_run("--headless", "-t", "1s", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "perflab: error: no host to load: give -H/--host (or LOCUST_HOST, or host in "
        "locust.conf), or set host on the User class"
    ]
