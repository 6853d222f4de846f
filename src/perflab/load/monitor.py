"""Server-side resources sampled during a load test: CPU and memory of the app, and DB sessions.

Latency alone does not say *why* a server slowed down; the report puts the server's CPU,
memory and database connections next to it. The runner lives under gevent's patching, so
everything here is a plain blocking call that returns quickly (``/proc`` reads through
psutil, one psycopg query with short timeouts, ``time.sleep``): no threads, no event loops.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import psutil

from perflab.errors import PerflabError
from perflab.load.target import is_this_machine, resolve_addresses
from perflab.probe.masking import redact_url

SAMPLE_COLUMNS = (
    "t",
    "server_cpu_percent",
    "server_rss_mb",
    "server_processes",
    "system_cpu_percent",
    "system_memory_percent",
    "system_memory_used_mb",
    "db_connections",
    "db_active",
)
POSTGRES_SCHEMES = ("postgres", "postgresql")
MIB = 1024 * 1024
# A DB that refused or timed out is retried this much later, not every sample: each
# attempt may block the runner's event loop for up to the connect timeout.
RECONNECT_AFTER_S = 10.0
CONNECT_TIMEOUT_S = 2
SLEEP_STEP_S = 0.1

_WILDCARDS = frozenset({"", "0.0.0.0", "::"})
# Client sessions only: autovacuum and parallel workers are not connections the app holds.
_DB_QUERY = """
SELECT count(*), count(*) FILTER (WHERE state = 'active')
FROM pg_stat_activity
WHERE datname = current_database()
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
"""


def _addresses(host: str) -> set[str]:
    """Addresses a listening socket may show for ``host`` (no DNS: it could start threads)."""
    host = (host or "").strip("[]")
    if host == "localhost":
        return {"127.0.0.1", "::1"}
    return {host, f"::ffff:{host}"}


@dataclass(frozen=True)
class ServerSearch:
    """What ``find_server`` found: the server's top process, or why there is none."""

    pid: int | None
    problem: str | None = None  # why no pid, in words a person can act on


def find_server(host: str, port: int) -> ServerSearch:
    """The top process listening on host:port (gunicorn's master, not a worker), or why not.

    Every gunicorn worker inherits the master's listening socket, and psutil names only
    one of the processes holding a socket (whichever /proc lists first), so the holder it
    names is climbed up through its ancestors while they hold a listener on the port too.
    The climb stops at an ancestor whose sockets this user may not read (a detached
    gunicorn's parent is PID 1, a root process; a root master of workers run as another
    user): the socket's owner and its children are then the server. No pid when nothing
    listens, when psutil may not see the owner (another user's process), or when unrelated
    processes share the port (SO_REUSEPORT) and the choice would be a guess.
    """
    wanted = _addresses(host)
    any_address = (host or "").strip("[]") in _WILDCARDS
    where = f"{host}:{port}"

    def listening(connections) -> bool:
        return any(
            c.status == psutil.CONN_LISTEN
            and c.laddr
            and c.laddr.port == port
            and (any_address or c.laddr.ip in wanted or c.laddr.ip in _WILDCARDS)
            for c in connections
        )

    try:
        holders = {c.pid for c in psutil.net_connections(kind="tcp") if listening([c])}
    except (psutil.Error, OSError) as exc:
        return ServerSearch(None, f"cannot list listening sockets ({type(exc).__name__})")
    if None in holders:  # a listener whose owner psutil may not see: do not guess
        return ServerSearch(
            None, f"the process listening on {where} is not visible to this user (another "
            "user's process)",
        )  # fmt: skip
    tops = {_top_listener(pid, listening) for pid in holders} - {None}
    if len(tops) > 1:
        pids = ", ".join(str(pid) for pid in sorted(tops))
        return ServerSearch(None, f"several processes listen on {where} ({pids})")
    if not tops:
        return ServerSearch(None, f"no process listens on {where}")
    return ServerSearch(tops.pop())


def _top_listener(pid: int, listening: Callable[[list], bool]) -> int | None:
    """``pid``, or its furthest ancestor up to which every process listens on the port too;
    None when ``pid`` has exited."""
    try:
        top = psutil.Process(pid)
        ancestors = top.parents()
    except psutil.NoSuchProcess:
        return None
    except psutil.Error:
        return pid
    for parent in ancestors:
        try:
            if not listening(parent.net_connections(kind="tcp")):
                break
        except psutil.Error:  # AccessDenied (PID 1, another user's master) or gone
            break
        top = parent
    return top.pid


def _elsewhere(host: str, port: int) -> str | None:
    """Why ``host`` is not this machine ("staging.example.com is another machine"), or None
    when it is. An address needs no resolver (under gevent a lookup takes an OS thread)."""
    name = (host or "").strip("[]")
    if name in _WILDCARDS or name == "localhost":
        return None
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
        addresses = [name]
    except ValueError:
        try:
            addresses = [address[0] for _, address in resolve_addresses(name, port)]
        except PerflabError as exc:
            return str(exc)
    return None if is_this_machine(addresses) else f"{name} is another machine"


def find_listening_pid(host: str, port: int) -> int | None:
    """``find_server(host, port).pid``: the server's top process, or None."""
    return find_server(host, port).pid


def is_postgres_url(url: str | None) -> bool:
    """Whether DB sessions can be counted: pg_stat_activity exists only on PostgreSQL."""
    return bool(url) and urlsplit(url).scheme in POSTGRES_SCHEMES


class ResourceMonitor:
    """Samples the server's process tree, the machine and PostgreSQL sessions.

    CPU figures are usage *between* two readings, so the monitor keeps its psutil.Process
    objects and their CPU times from one sample to the next. ``sample()`` never raises: a
    server that exited gives None server fields, a DB that fails gives None DB fields and
    one line in ``warnings``.
    """

    def __init__(
        self,
        server_pid: int | None = None,
        database_url: str | None = None,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.server_pid = server_pid
        self.database_url = database_url
        self.interval_s = interval_s
        self.clock = clock
        self.samples: list[dict] = []
        self.warnings: list[str] = []
        self._root: psutil.Process | None = None
        if server_pid is not None:
            try:
                self._root = psutil.Process(server_pid)
            except psutil.Error:
                self._root = None
        # pid -> (process, its CPU seconds at the last reading); None before any reading.
        self._tree: dict[int, tuple[psutil.Process, float]] | None = None
        self._tree_read_at = 0.0
        self._system_times = psutil.cpu_times()
        self._db = None
        self._db_retry_at = 0.0
        self._db_warned = False
        self._server_warned = False
        self.prime()

    @classmethod
    def for_target(
        cls,
        host: str,
        port: int,
        server_pid: int | None = None,
        database_url: str | None = None,
    ) -> ResourceMonitor:
        """A run's monitor: ``server_pid`` (``--server-pid``), else the server listening on
        host:port. Without one, ``warnings`` says why, for the run to show and keep.

        A target on another machine has no process here: the server is not watched (nor a
        ``--server-pid``, which would be some local process shown as the server's), and the
        system figures are the load generator's."""
        elsewhere = _elsewhere(host, port)
        if elsewhere:
            monitor = cls(None, database_url)
            ignored = f"; --server-pid {server_pid} not watched" if server_pid is not None else ""
            monitor.warnings.append(
                f"server resources not monitored: {elsewhere}{ignored}; system CPU and memory "
                "are this machine's (the load generator's)"
            )
            return monitor
        search = ServerSearch(server_pid) if server_pid is not None else find_server(host, port)
        monitor = cls(search.pid, database_url)
        if search.problem:
            monitor.warnings.append(
                f"server resources not monitored: {search.problem}; pass --server-pid PID"
            )
        return monitor

    @staticmethod
    def columns() -> list[str]:
        """The sample keys in order (the CSV header)."""
        return list(SAMPLE_COLUMNS)

    def prime(self) -> None:
        """Start the CPU measurements now, so the next sample covers exactly the time since."""
        self._system_times = psutil.cpu_times()
        self._read_server()

    def sample(self) -> dict:
        """One row: CPU is the usage since the previous sample (or construction/prime)."""
        server = self._read_server()
        cpu, rss, processes = server if server else (None, None, None)
        memory = psutil.virtual_memory()
        connections, active = self._read_db()
        return {
            "t": round(self.clock(), 3),
            "server_cpu_percent": None if cpu is None else round(cpu, 1),
            "server_rss_mb": None if rss is None else round(rss / MIB, 1),
            "server_processes": processes,
            "system_cpu_percent": round(self._system_cpu(), 1),
            "system_memory_percent": round(memory.percent, 1),
            # total - available, the same basis as ``percent`` (psutil's ``used`` is not).
            "system_memory_used_mb": round((memory.total - memory.available) / MIB, 1),
            "db_connections": connections,
            "db_active": active,
        }

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Append a sample every ``interval_s`` until ``should_stop()``; reacts within ~0.1 s.

        Each sample covers the interval before it. The DB session is closed on return.
        """
        self.prime()
        next_at = time.monotonic() + self.interval_s
        try:
            while not should_stop():
                now = time.monotonic()
                if now < next_at:
                    time.sleep(min(SLEEP_STEP_S, next_at - now))
                    continue
                self.samples.append(self.sample())
                next_at += self.interval_s
                if next_at <= time.monotonic():  # a slow sample: skip the missed slots
                    next_at = time.monotonic() + self.interval_s
        finally:
            self.close()  # the loop owns the DB session; a later sample() reconnects

    def close(self) -> None:
        self._drop_db()

    def __enter__(self) -> ResourceMonitor:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- server process tree ------------------------------------------------------------

    def _read_server(self) -> tuple[float | None, int, int] | None:
        """(CPU % of one core since the last reading, RSS bytes, processes) of the tree."""
        root = self._root
        if root is None:
            return None
        try:
            if not root.is_running() or root.status() == psutil.STATUS_ZOMBIE:
                raise psutil.NoSuchProcess(root.pid)
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            self._root, self._tree = None, None
            return None
        except psutil.Error as exc:
            self._warn_server(exc)
            return None
        now = time.monotonic()
        previous = self._tree
        tree: dict[int, tuple[psutil.Process, float]] = {}
        used = rss = 0.0
        for member in members:
            known = previous.get(member.pid) if previous else None
            # Same pid and creation time means the same process: keep its CPU baseline.
            process = known[0] if known and known[0] == member else member
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    memory = process.memory_info()
            except psutil.NoSuchProcess:
                continue  # a worker that exited since children() listed it
            except psutil.Error as exc:
                if process is root:
                    self._warn_server(exc)
                    return None
                continue
            # Own times only: children_* jump by a worker's whole lifetime when it is reaped.
            seconds = times.user + times.system
            if known and process is known[0]:
                used += max(0.0, seconds - known[1])
            elif previous is not None:
                used += seconds  # born since the last reading: all of its CPU is new
            tree[member.pid] = (process, seconds)
            rss += memory.rss
        elapsed = now - self._tree_read_at
        cpu = used / elapsed * 100 if previous is not None and elapsed > 0 else None
        self._tree, self._tree_read_at = tree, now
        return cpu, int(rss), len(tree)

    def _warn_server(self, exc: psutil.Error) -> None:
        if not self._server_warned:
            self._server_warned = True
            self.warnings.append(
                f"server resources not monitored: process {self.server_pid}: {type(exc).__name__}"
            )

    def _system_cpu(self) -> float:
        """Busy share of all cores since the last reading (psutil's own formula)."""
        before, after = self._system_times, psutil.cpu_times()
        self._system_times = after
        total = _total_time(after) - _total_time(before)
        busy = _busy_time(after) - _busy_time(before)
        if total <= 0:
            return 0.0
        return min(100.0, max(0.0, busy / total * 100))

    # -- database -----------------------------------------------------------------------

    def _read_db(self) -> tuple[int | None, int | None]:
        """(client sessions, active ones) on the app's database; (None, None) when unknown."""
        if not is_postgres_url(self.database_url):
            return None, None
        for _ in range(2):
            fresh = self._db is None
            if fresh:
                if time.monotonic() < self._db_retry_at:
                    return None, None
                try:
                    self._db = self._connect()
                # A monitor must never take the load test down, whatever the driver raises.
                except Exception as exc:
                    self._db_retry_at = time.monotonic() + RECONNECT_AFTER_S
                    self._warn_db(exc)
                    return None, None
            try:
                with self._db.cursor() as cursor:
                    cursor.execute(_DB_QUERY)
                    total, active = cursor.fetchone()
                return int(total), int(active)
            except Exception as exc:
                self._drop_db()
                if fresh:
                    self._warn_db(exc)
                    return None, None
                # A stale connection (server restart, idle timeout): reconnect once now.
        return None, None

    def _connect(self):
        import psycopg

        connection = psycopg.connect(
            self.database_url,
            connect_timeout=CONNECT_TIMEOUT_S,
            autocommit=True,
            application_name="perflab-monitor",
        )
        connection.execute("SET statement_timeout = '2s'")
        return connection

    def _drop_db(self) -> None:
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None

    def _warn_db(self, exc: BaseException) -> None:
        if self._db_warned:
            return
        self._db_warned = True
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        password = urlsplit(self.database_url).password
        if password:
            detail = detail.replace(password, "***")
        self.warnings.append(
            f"database connections not monitored ({redact_url(self.database_url)}): {detail}"
        )


def _total_time(times) -> float:
    # On Linux guest time is already counted in user/nice.
    return sum(times) - getattr(times, "guest", 0) - getattr(times, "guest_nice", 0)


def _busy_time(times) -> float:
    # iowait is idle time too: the CPU waits, it does not work.
    return _total_time(times) - times.idle - getattr(times, "iowait", 0)
