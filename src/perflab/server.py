"""A WSGI app under gunicorn on this machine's loopback, as a managed child process."""

from __future__ import annotations

import errno
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from perflab.errors import ExitCode, PerflabError

LOOPBACK_HOSTS = ("127.0.0.1", "::1")


def default_workers() -> int:
    return os.cpu_count() or 1


def ensure_port_free(host: str, port: int) -> None:
    """Fail with one line when something already listens on host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Same option gunicorn sets, so a port in TIME_WAIT is not mistaken for a taken one.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PerflabError(f"port {port} on {host} is already in use") from None
            raise PerflabError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free now (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class GunicornServer:
    """gunicorn serving ``app`` (a WSGI application's ``module:name``) on loopback: started,
    awaited until it answers, stopped cleanly.

    ``pid`` is the gunicorn master; its children are the workers (the resource
    monitor watches that process tree).
    """

    def __init__(
        self,
        app: str,
        *,
        port: int = 8000,
        host: str = "127.0.0.1",
        workers: int | None = None,
        threads: int = 1,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        log_level: str = "warning",
        ready_path: str = "/healthz/",
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise PerflabError(f"perflab only serves on loopback ({', '.join(LOOPBACK_HOSTS)})")
        if port < 1 or port > 65535:
            raise PerflabError(f"--port must be between 1 and 65535, got {port}")
        self.app = app
        self.host = host
        self.port = port
        self.workers = default_workers() if workers is None else workers
        if self.workers < 1 or threads < 1:
            raise PerflabError("--workers and --threads must be at least 1")
        self.threads = threads
        self.env = env or {}
        self.log_path = log_path
        self.log_level = log_level
        self.ready_path = ready_path
        self.tls = tls  # (certificate, key) PEM files: serve HTTPS (a test of HTTPS targets)
        self.process: subprocess.Popen | None = None
        self._log_file = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "gunicorn", self.app, "--bind", self.address]
        cmd += ["--workers", str(self.workers), "--log-level", self.log_level]
        if self.threads > 1:
            cmd += ["--threads", str(self.threads)]
        # Workers stop after the in-flight request on SIGTERM; give them a bounded time.
        cmd += ["--graceful-timeout", "10", "--timeout", "60"]
        # One shared default control socket path would make concurrent servers collide.
        cmd += ["--no-control-socket"]
        if self.tls:
            cmd += ["--certfile", str(self.tls[0]), "--keyfile", str(self.tls[1])]
        return cmd

    def start(
        self, timeout: float = 60.0, cancelled: Callable[[], bool] | None = None
    ) -> GunicornServer:
        """Start gunicorn and return once it answers; ``cancelled`` aborts the wait early."""
        ensure_port_free(self.host, self.port)
        stderr = None
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = stderr = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stderr=stderr,
            # Own process group: a Ctrl-C in the terminal reaches perflab, which stops gunicorn.
            start_new_session=True,
        )
        try:
            self.wait_ready(timeout, cancelled)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float, cancelled: Callable[[], bool] | None = None) -> None:
        deadline = time.monotonic() + timeout
        url = self.url + self.ready_path
        trusted = ssl.create_default_context(cafile=self.tls[0]) if self.tls else None
        while time.monotonic() < deadline:
            if cancelled and cancelled():
                raise KeyboardInterrupt
            code = self.process.poll()
            if code is not None:
                raise PerflabError(
                    f"gunicorn exited with code {code} before answering{self._log_hint()}",
                    ExitCode.FAILED,
                )
            try:
                with urllib.request.urlopen(url, timeout=2, context=trusted) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise PerflabError(
            f"gunicorn did not answer {url} within {timeout:.0f}s{self._log_hint()}",
            ExitCode.FAILED,
        )

    def _log_hint(self) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        return f": {lines[-1].strip()} (log: {self.log_path})" if lines else ""

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL to the group if it hangs."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        return self.process.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once gunicorn has exited, or None when ``timeout`` passes first."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
