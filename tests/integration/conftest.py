import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from perflab.demo.project import WSGI_APP
from perflab.server import GunicornServer, free_port

REPO = Path(__file__).parents[2]


def run_perflab(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "perflab", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def seed_blog(directory: Path, posts: int, users: int) -> tuple[str, Path]:
    """A SQLite file in ``directory`` seeded through the real `perflab seed` command: its
    database URL, and the directory (the probe's data goes there too)."""
    url = f"sqlite:///{directory / 'blog.sqlite3'}"
    env = {"PERFLAB_DATA_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    result = run_perflab("seed", "--posts", str(posts), "--users", str(users), "--db", url, env=env)
    assert result.returncode == 0, result.stderr
    return url, directory


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory):
    """3,000 posts by 20 authors."""
    return seed_blog(tmp_path_factory.mktemp("blog"), posts=3000, users=20)


def server_for(seeded_db, data_dir, log_dir=None, workers=2, **env) -> GunicornServer:
    """The reference app under gunicorn on the seeded database, probe data in ``data_dir``."""
    url, _ = seeded_db
    return GunicornServer(
        WSGI_APP,
        port=free_port(),
        workers=workers,
        env={
            "DJANGO_SETTINGS_MODULE": "perflab.demo.settings",
            "DATABASE_URL": url,
            "PERFLAB_DATA_DIR": str(data_dir),
            **env,
        },
        log_path=(log_dir or data_dir) / "gunicorn.log",
    )


@pytest.fixture(scope="module")
def blog_server(seeded_db):
    with server_for(seeded_db, seeded_db[1]) as server:
        yield server


def catch_all_site(directory: Path, tls: tuple[Path, Path] | None = None, **env: str):
    """tests/integration/catch_all_urls.py under gunicorn (with TLS: certificate and key), its
    probe store in ``directory``."""
    from perflab.probe.store import RecordingStore

    RecordingStore.at_path(directory / "probe.sqlite3").ensure_schema()  # for --store
    return GunicornServer(
        WSGI_APP,
        port=free_port(),
        workers=2,
        env={
            "DJANGO_SETTINGS_MODULE": "tests.integration.catch_all_settings",
            "PERFLAB_DATA_DIR": str(directory),
            "PYTHONPATH": str(REPO),
            **env,
        },
        log_path=directory / "gunicorn.log",
        tls=tls,
    )


def chromium() -> str | None:
    """Debian's chromium (`.ci/run` installs it); the browser tests skip without it."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for a test module, driven by Playwright; nothing but loopback is
    reachable from it (everything else goes to a closed port)."""
    executable = chromium()
    if executable is None:
        pytest.skip("no chromium or chromium-browser on PATH (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            proxy={"server": "http://127.0.0.1:9", "bypass": "127.0.0.1,localhost,[::1]"},
        )
        yield launched
        launched.close()


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    """``check()``'s first true value, polled every 0.2 s for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)
