"""`pip install django-perflab` alone (no extras) in a fresh virtualenv: the probe serves a
real request and records it, the load and demo dependencies are absent, and the `perflab`
command says in one line which extra to install.

The venv is built without pip of its own (the suite's pip installs into it with
``--python``) from a copy of the source tree (the build never writes into the checkout), and
uses pip's wheel cache: about 10 s here once the cache is warm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from perflab.errors import ExitCode

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# What the load and demo extras bring; none may be needed by the probe's Django process.
NOT_IN_CORE = ("locust", "gevent", "rich", "psutil", "jinja2", "msgspec", "rest_framework",
               "rest_framework_simplejwt", "gunicorn", "dj_database_url")  # fmt: skip

SETTINGS = """\
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRET_KEY = "core-install-test"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "perflab"]
MIDDLEWARE = ["perflab.middleware.ProbeMiddleware"]
ROOT_URLCONF = "site_urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": HERE / "app.sqlite3"}}
USE_TZ = True
PERFLAB = {"STORE": {"PATH": str(HERE / "probe.sqlite3")}, "PERMISSION": "site_urls.anyone"}
"""

URLS = """\
from django.db import connection
from django.http import HttpResponse
from django.urls import include, path


def anyone(request):
    return True


def hello(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("hello")


urlpatterns = [path("perf/", include("perflab.urls")), path("hello/", hello)]
"""

# The core's own modules (with every module of perflab.api and perflab.probe, walked).
CORE_MODULES = ("perflab", "perflab.errors", "perflab.datadir", "perflab.mount",
                "perflab.histogram", "perflab.signals", "perflab.router", "perflab.checks",
                "perflab.apps", "perflab.middleware", "perflab.urls")  # fmt: skip

# Each core module imports; then one real request through the probe (Django's test client
# runs the whole handler and middleware), then the probe's own API until the writer has
# stored it (bounded).
SERVE = """\
import json, time
import django
from django.core.management import call_command

django.setup()
call_command("check", fail_level="WARNING")
import importlib, pkgutil
import perflab.api, perflab.dashboard, perflab.probe

for module in CORE_MODULES:
    importlib.import_module(module)
for package in (perflab.api, perflab.dashboard, perflab.probe):
    for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(found.name)
from django.test import Client

client = Client()
served = client.get("/hello/", HTTP_X_REQUEST_ID="core-install-1")
assert served.status_code == 200, served.status_code
deadline = time.monotonic() + 15
while True:
    found = client.get("/perf/api/request-id/core-install-1/")
    if found.status_code == 200 or time.monotonic() > deadline:
        break
    time.sleep(0.1)
dashboard = client.get("/perf/", {"range": "5m"})  # its templates and assets shipped too
chart = client.get("/perf/assets/uPlot.iife.min.js")
print(json.dumps({
    "status": found.status_code, "body": found.json(),
    "dashboard": [dashboard.status_code, "hello/" in dashboard.text],
    "chart": [chart.status_code, len(b"".join(chart))],
}))
"""


@pytest.fixture(scope="module")
def core_python(tmp_path_factory) -> Path:
    """A virtualenv holding django-perflab without extras, and what it depends on."""
    root = tmp_path_factory.mktemp("core-install")
    source = root / "source"
    source.mkdir()
    for part in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / part, source / part)
    shutil.copytree(
        REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    venv.create(root / "venv", with_pip=False)
    python = root / "venv" / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    installed = subprocess.run(
        [*pip, str(source)], capture_output=True, text=True, timeout=300
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    return python


def test_the_core_has_none_of_the_load_or_demo_dependencies(core_python):
    found = subprocess.run(
        [str(core_python), "-c", "import importlib.util as u, sys; "
         f"print(' '.join(m for m in {NOT_IN_CORE!r} if u.find_spec(m)))"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == []


def test_the_probe_records_a_request_served_by_a_core_only_install(core_python, tmp_path):
    (tmp_path / "site_settings.py").write_text(SETTINGS)
    (tmp_path / "site_urls.py").write_text(URLS)
    (tmp_path / "serve.py").write_text(f"CORE_MODULES = {CORE_MODULES!r}\n{SERVE}")
    served = subprocess.run(
        [str(core_python), "serve.py"],
        cwd=tmp_path,
        env={"DJANGO_SETTINGS_MODULE": "site_settings", "PYTHONPATH": str(tmp_path),
             "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert served.returncode == 0, served.stderr
    answer = json.loads(served.stdout.splitlines()[-1])
    assert answer["status"] == 200, answer
    assert answer["dashboard"] == [200, True]  # the overview lists the route it served
    assert answer["chart"][0] == 200 and answer["chart"][1] > 10_000
    recorded = answer["body"]
    assert recorded["path"] == "/hello/" and recorded["status"] == 200
    assert [q["sql"] for q in recorded["queries"]] == ["SELECT 1"]
    assert (tmp_path / "probe.sqlite3").is_file()


@pytest.mark.parametrize(("command", "extra"), [("run", "load"), ("serve", "demo")])
def test_a_command_without_its_extra_says_what_to_install(core_python, command, extra):
    perflab = core_python.parent / "perflab"
    result = subprocess.run(
        [str(perflab), command, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == ExitCode.MISSING_EXTRA, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"perflab {command} needs the {extra} extra" in result.stderr
    assert f"pip install 'django-perflab[{extra}]'" in result.stderr
