"""What the dashboard's browser test stands on: the reference app under gunicorn with its probe,
its users (staff and not), real load through ``perflab run``, a read-only view of the probe's
store, and a headless Chromium whose every request is checked: only 127.0.0.1 is reachable,
and console errors, page errors and failed loads are collected for the test to assert on.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from perflab.datadir import STORE_FILE
from perflab.server import GunicornServer
from tests.integration.conftest import wait_for

REPO = Path(__file__).parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "dashboard"

LOCUSTFILE = """
from locust import constant

from perflab.demo.locustfile import AuthorsUser, BlogUser


class QuickBlogUser(BlogUser):
    wait_time = constant(0.05)


class QuickAuthorsUser(AuthorsUser):
    wait_time = constant(0.2)
"""

# Django's ORM on the reference app's own database: the staff login `perflab serve` makes
# (its password in the data directory), or a user who is not staff.
MAKE_USER = """
import sys

import django

django.setup()
from django.contrib.auth import get_user_model

from perflab.demo import project
from perflab.demo.staff import staff_login

if sys.argv[1] == "--staff":
    staff_login(project.data_dir())
else:
    user = get_user_model()(username=sys.argv[1], is_active=True, is_staff=False)
    user.set_password(sys.argv[2])
    user.save()
"""


def app_environment(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "perflab.demo.settings",
        "DATABASE_URL": database_url,
        "PERFLAB_DATA_DIR": str(data_dir),
        "PERFLAB_PROBE": "off",  # a one-off process: nothing of it to record
        "PATH": "/usr/bin:/bin",
    }


def make_users(database_url: str, data_dir: Path) -> tuple[tuple[str, str], tuple[str, str]]:
    """The reference app's staff login, as `perflab serve` makes it (the password read from
    the data directory's file, as a person would), and a user who is not staff: each
    ``(username, password)``."""
    from perflab.demo.staff import PASSWORD_FILE, STAFF_USERNAME

    plain = ("reader", secrets.token_urlsafe(16))
    for arguments in (["--staff"], list(plain)):
        made = subprocess.run(
            [sys.executable, "-c", MAKE_USER, *arguments], capture_output=True, text=True,
            timeout=60, env=app_environment(database_url, data_dir),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr[-3000:]
    staff = (STAFF_USERNAME, (data_dir / PASSWORD_FILE).read_text().strip())
    return staff, plain


@dataclass
class Site:
    """The served reference app and what a test needs to know about it."""

    server: GunicornServer
    data_dir: Path
    staff: tuple[str, str]
    plain: tuple[str, str]
    locustfile: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def store_path(self) -> Path:
        return self.data_dir / STORE_FILE

    def reader(self):
        """The probe's store, read-only: the test never writes to what it checks."""
        from perflab.probe.store.reader import StoreReader

        return StoreReader.at_path(self.store_path, read_only=True)

    def load_command(self, seconds: int, out: Path, *options: str) -> list[str]:
        """A bounded headless ``perflab run`` of the demo's users against this site, registered
        in its store."""
        return [sys.executable, "-m", "perflab", "run", "--headless", "--quiet",
                "-f", str(self.locustfile), "--host", self.url, "-u", "4", "-r", "4",
                "-t", f"{seconds}s", "--store", str(self.store_path), "--out", str(out),
                *options, "QuickBlogUser", "QuickAuthorsUser"]  # fmt: skip

    def load(self, seconds: int, out: Path, *options: str, background: bool = False):
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        command = self.load_command(seconds, out, *options)
        if background:  # its output in OUT.log (the child keeps its own copy of the file)
            with open(out.parent / f"{out.name}.log", "w") as log:
                return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done

    def settled(self, timeout: float = 15) -> int:
        """The store's request count once it stopped changing for a second (the probe's
        writers flush every 0.5 s)."""
        store, last = self.reader(), [-1, time.monotonic()]

        def still() -> int | None:
            count = store.request_count()
            if count != last[0]:
                last[:] = [count, time.monotonic()]
                return None
            return count if time.monotonic() - last[1] >= 1.0 and count else None

        return wait_for(still, timeout, "the probe's store to settle")

    def get(self, path: str, headers: dict[str, str] | None = None):
        """``(status, headers, body)`` of one GET, redirects not followed."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()


@dataclass
class Guard:
    """Everything a browser context tried that it should not have: a host other than
    127.0.0.1 (aborted), console errors, uncaught page errors, failed loads."""

    blocked: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def attach(self, context) -> None:
        context.route("**/*", self._route)
        context.on("page", self._watch)
        context.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        context.on(
            "response",
            lambda r: r.status >= 400 and self.failed.append(f"{r.url}: HTTP {r.status}"),
        )

    def _route(self, route) -> None:
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def _watch(self, page) -> None:
        page.on("console", lambda m: m.type == "error" and self.console.append(m.text))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

    def problems(self) -> dict[str, list[str]]:
        found = {
            "blocked": self.blocked,
            "console": self.console,
            "page_errors": self.page_errors,
            "failed": self.failed,
        }
        return {name: entries for name, entries in found.items() if entries}


def shot(page, name: str) -> Path:
    """A full-page screenshot kept as a CI artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
