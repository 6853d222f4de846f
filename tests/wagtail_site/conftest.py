"""Fixtures serving the Wagtail test site: a seeded database, Django's own statement
counts per page, and the site under a real gunicorn with the probe on.

The test process runs the reference app's settings (``tests.settings``), so everything
that needs the site's settings runs in a subprocess: the seeding, the counting and
gunicorn. Their environment names the site's settings, database and probe store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from perflab.probe.store import RecordingStore
from perflab.server import GunicornServer, free_port

REPO = Path(__file__).resolve().parents[2]
SETTINGS = "tests.wagtail_site.settings"


@dataclass(frozen=True)
class SeededSite:
    """A migrated, seeded site database and the pages in it (url, type, title)."""

    database: Path
    directory: Path
    pages: list[dict[str, str]]

    def env(self, store: Path) -> dict[str, str]:
        """The environment a process of the site needs, its probe writing to ``store``."""
        return {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "WAGTAIL_SITE_DB": str(self.database),
            "WAGTAIL_SITE_STORE": str(store),
            "PERFLAB_DATA_DIR": str(self.directory),
            "PYTHONPATH": str(REPO),
        }

    def urls_of(self, page_type: str) -> list[str]:
        return [page["url"] for page in self.pages if page["type"] == page_type]


def run_site_module(module: str, site_env: dict[str, str], timeout: float = 120) -> str:
    """``python -m module`` with the site's settings; its stdout (stderr on failure)."""
    result = subprocess.run(
        [sys.executable, "-m", module],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**os.environ, **site_env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def wagtail_site_db(tmp_path_factory) -> SeededSite:
    """The test site's database, migrated and seeded once per session (read-only after)."""
    directory = tmp_path_factory.mktemp("wagtail-site")
    database = directory / "site.sqlite3"
    seeding = SeededSite(database, directory, [])
    seed_env = seeding.env(directory / "seed-probe.sqlite3")
    pages = json.loads(run_site_module("tests.wagtail_site.seed", seed_env))
    return SeededSite(database, directory, pages)


@pytest.fixture(scope="session")
def wagtail_query_counts(wagtail_site_db, tmp_path_factory) -> dict[str, dict]:
    """Per page url: Django's own count of its statements on a warm process (status,
    queries, repeated statement shapes), from ``tests.wagtail_site.query_counts``."""
    store = tmp_path_factory.mktemp("wagtail-counts") / "probe.sqlite3"
    output = run_site_module("tests.wagtail_site.query_counts", wagtail_site_db.env(store))
    return {page["url"]: page for page in json.loads(output)}


@dataclass
class ServedSite:
    """The site under gunicorn: its base url, its pages and the probe's store."""

    server: GunicornServer
    store_path: Path
    pages: list[dict[str, str]]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def store(self) -> RecordingStore:
        return RecordingStore.at_path(self.store_path)

    def get(self, path: str) -> tuple[int, str]:
        """GET ``path``: the status and the request id the probe answered with."""
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            response.read()
            return response.status, response.headers["X-Request-ID"]

    def stored(self, request_id: str, timeout: float = 10.0) -> dict:
        """The request as the probe stored it, once its writer has flushed it."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.store.request(request_id=request_id)
            if row is not None:
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"request {request_id} not stored within {timeout:.0f}s")
            time.sleep(0.1)


def serve_site(site: SeededSite, store: Path, workers: int = 2, **env: str) -> GunicornServer:
    """The seeded site under gunicorn on a free loopback port (start it with ``with``)."""
    return GunicornServer(
        "tests.wagtail_site.wsgi:application",
        port=free_port(),
        workers=workers,
        env={**site.env(store), **env},
        log_path=store.parent / "gunicorn.log",
        ready_path="/healthz/",
    )


@pytest.fixture(scope="module")
def wagtail_server(wagtail_site_db, tmp_path_factory):
    """The site served by two gunicorn workers for a test module, with a store of its own."""
    store = tmp_path_factory.mktemp("wagtail-probe") / "probe.sqlite3"
    with serve_site(wagtail_site_db, store) as server:
        yield ServedSite(server, store, wagtail_site_db.pages)
