import subprocess
import sys

import pytest

from perflab.server import GunicornServer, free_port


def run_perflab(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "perflab", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory):
    """A SQLite file seeded through the real `perflab seed` command."""
    directory = tmp_path_factory.mktemp("blog")
    url = f"sqlite:///{directory / 'blog.sqlite3'}"
    env = {"PERFLAB_DATA_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    result = run_perflab("seed", "--posts", "3000", "--users", "20", "--db", url, env=env)
    assert result.returncode == 0, result.stderr
    return url, directory


@pytest.fixture(scope="module")
def blog_server(seeded_db):
    url, directory = seeded_db
    server = GunicornServer(
        port=free_port(),
        workers=2,
        env={
            "DJANGO_SETTINGS_MODULE": "perflab.demo.settings",
            "DATABASE_URL": url,
            "PERFLAB_DATA_DIR": str(directory),
        },
        log_path=directory / "gunicorn.log",
    )
    with server:
        yield server
