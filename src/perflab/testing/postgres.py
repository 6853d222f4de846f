"""A throwaway PostgreSQL cluster on loopback, from the machine's PostgreSQL binaries.

Tests and benchmarks need a real PostgreSQL, not a mock, and a fresh machine has no
running one. ``TemporaryPostgres`` runs ``initdb`` into a temporary directory and
starts a server on a free 127.0.0.1 port, tuned for tests (no fsync), then removes
it all on exit. As root it runs the server as the ``postgres`` user, as PostgreSQL
refuses to run as root.

    python -m perflab.testing.postgres -- pytest -m database

runs a command with ``DATABASE_URL`` pointing at such a cluster.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from perflab.errors import PerflabError
from perflab.server import free_port

INSTALL_HINT = "install PostgreSQL (Debian: apt-get install postgresql) or set PERFLAB_PG_BIN"


def find_postgres_bin() -> Path:
    """The directory holding initdb and pg_ctl: $PERFLAB_PG_BIN, Debian's layout, or PATH."""
    candidates = []
    if os.environ.get("PERFLAB_PG_BIN"):
        candidates.append(Path(os.environ["PERFLAB_PG_BIN"]))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(
        (Path(v) for v in versions), key=lambda p: int(p.parent.name), reverse=True
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise PerflabError(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}")


class TemporaryPostgres:
    """A PostgreSQL server that lives as long as the ``with`` block."""

    def __init__(self, database: str = "perflab") -> None:
        self.database = database
        self.bin = find_postgres_bin()
        self.port = free_port()
        self.directory: Path | None = None
        self._run_as: str | None = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._run_as:
            command = ["runuser", "-u", self._run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise PerflabError(f"{args[0]} failed: {detail[-1] if detail else result.returncode}")

    def start(self) -> TemporaryPostgres:
        if self._run_as:
            try:
                account = pwd.getpwnam(self._run_as)
            except KeyError:
                raise PerflabError(
                    f"no '{self._run_as}' user to run PostgreSQL as: {INSTALL_HINT}"
                ) from None
        self.directory = Path(tempfile.mkdtemp(prefix="perflab-pg-"))
        if self._run_as:
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        data = self.directory / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        log = self.directory / "server.log"
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  self.database)  # fmt: skip
        return self

    def stop(self) -> None:
        if self.directory is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print("usage: python -m perflab.testing.postgres -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    try:
        with TemporaryPostgres() as cluster:
            print(f"PostgreSQL cluster at {cluster.url}", file=sys.stderr)
            env = {**os.environ, "DATABASE_URL": cluster.url, "PERFLAB_EXPECT_VENDOR": "postgresql"}
            return subprocess.run(argv, env=env).returncode
    except PerflabError as exc:
        print(f"perflab: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
