"""Each writing process's ledger: records taken and records accounted for, in a file that
outlives the process, so that what a killed process held unwritten is counted, not lost.

A record is taken on the request path (``BackgroundWriter.submit``) and accounted for when
the batch holding it (or the counter of records dropped) is committed. A process killed
with SIGKILL (out of memory, a timeout, a deploy) takes its queue with it; its ledger stays.
Another process of the same host finds it (the process is gone), counts the difference as
``lost_in_dead_process`` in the store and removes it. The store keeps each process's
accounted-for count too, committed with each batch, so a process killed between its commit
and its ledger update is not counted twice.

Where the host has a shared-memory tmpfs (``/dev/shm`` on Linux), the ledgers live there
and the counts are written through a memory map: a store of two integers, no system call
(a ``pwrite`` per request cost ~11 µs in place, benchmarks/RESULTS.md). A tmpfs page is
memory, allocated when the file is made: no full disk or immutable flag can make writing it
fault (both tried). A map of a file on disk can: made immutable under the process, its
next write is a SIGBUS that kills the app's worker; so elsewhere the counts are written
with ``pwrite``. The one way left to fault a mapped ledger is to truncate it by hand.
A ledger that cannot be made (the directory is unwritable) leaves the writer working: it
then says that a killed process's losses cannot be counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import mmap
import os
import socket
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from perflab.probe.process import current_pid

_COUNTS = struct.Struct("=qq")  # taken, settled (native order, as the shared map holds them)
_COUNT = struct.Struct("=q")
SUFFIX = ".ledger"
CLAIMED = ".claimed-"  # then the claiming process's pid
UNKNOWN_START = "0"
_made = itertools.count()  # ledgers this process made
SHARED_MEMORY = Path("/dev/shm")  # tmpfs: memory the host's processes share by file name
SIZE = mmap.PAGESIZE  # a ledger file: one page, written out when made


def ledger_directory(store: dict[str, str]) -> Path:
    """One directory per store and user, in shared memory where the host has it; else next
    to a store file, or in the temporary directory for a store on a database alias.
    Processes of one host reconcile each other; each host has its own."""
    identity = str(Path(store["PATH"]).resolve()) if "PATH" in store else f"alias:{store['ALIAS']}"
    name = f"perflab-ledgers-{os.getuid()}-{hashlib.sha1(identity.encode()).hexdigest()[:12]}"
    if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK | os.X_OK):
        return SHARED_MEMORY / name
    if "PATH" in store:
        path = Path(store["PATH"])
        return path.with_name(path.name + "-ledgers")
    return Path(tempfile.gettempdir()) / name


def _start_ticks(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot ("" where /proc is absent,
    or the process is gone): tells a live process from a new one that reuses its pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    return fields[19].decode()  # field 22 of proc(5); the first two precede the ")"


def _key(host: str, pid: int, ticks: str) -> str:
    """A ledger's name: host, pid, start ticks, and a number (a process may make several,
    a probe rebuilt with new settings: one file each). Read back by ``_key_fields``."""
    return f"{host}.{pid}.{ticks}.{next(_made)}"


def _key_fields(key: str) -> tuple[str, str, str]:
    """(host, pid, start ticks) of a ledger's name; empty strings for a name not ours."""
    host, pid, ticks, _number = [*key.rsplit(".", 3), "", "", ""][:4]
    return host, pid, ticks


def _alive(pid: int, ticks: str) -> bool:
    if ticks != UNKNOWN_START:
        return _start_ticks(pid) == ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Ledger:
    """This process's ledger file; ``problem`` says why there is none."""

    def __init__(self, directory: Path) -> None:
        pid = current_pid()
        self.key = _key(socket.gethostname(), pid, _start_ticks(pid) or UNKNOWN_START)
        self.path = directory / (self.key + SUFFIX)
        self.problem = ""
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self._counts: memoryview | None = None  # taken, settled: through the shared map
        try:
            fd = self._create(directory)
            self._fd = fd
            # Written out, not left sparse: later writes replace bytes and need no space.
            os.write(fd, bytes(SIZE))
            if directory.is_relative_to(SHARED_MEMORY):
                self._map = mmap.mmap(fd, SIZE)
                self._counts = memoryview(self._map).cast("q")
        except OSError as exc:
            self.problem = f"no ledger at {self.path}: {exc}"
            self.close(remove=True)

    def _create(self, directory: Path) -> int:
        """The ledger's file, new. The last process to close removes the directory, so it
        may go between making it and opening the file: made again then."""
        # O_EXCL, never O_TRUNC: cutting short a file another ledger maps is a SIGBUS.
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
        for _ in range(2):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                return os.open(self.path, flags, 0o600)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return os.open(self.path, flags, 0o600)

    def took(self, taken: int) -> None:
        """Records taken so far (called per record, on the request path)."""
        counts = self._counts
        if counts is not None:
            counts[0] = taken
        elif self._fd is not None:
            try:
                os.pwrite(self._fd, _COUNT.pack(taken), 0)
            except OSError as exc:
                self._fail(exc)

    def settled(self, settled: int) -> None:
        """Records accounted for so far (written, or counted as dropped)."""
        counts = self._counts
        if counts is not None:
            counts[1] = settled
        elif self._fd is not None:
            try:
                os.pwrite(self._fd, _COUNT.pack(settled), _COUNT.size)
            except OSError as exc:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.problem = f"ledger {self.path} failed: {exc}"
        self.close(remove=False)

    def close(self, remove: bool) -> None:
        """Stop writing; ``remove`` when everything taken was accounted for."""
        if self._counts is not None:
            self._counts.release()
            self._counts = None
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if remove:
            with contextlib.suppress(OSError):
                self.path.unlink()
            with contextlib.suppress(OSError):  # not empty: other processes' ledgers
                self.path.parent.rmdir()


@dataclass
class DeadLedger:
    """The ledger of a process of this host that is gone, claimed by this process."""

    key: str
    path: Path  # renamed to mark it claimed
    taken: int
    settled: int

    def settle(self) -> None:
        """Its losses are counted: the ledger goes."""
        with contextlib.suppress(OSError):
            self.path.unlink()

    def release(self) -> None:
        """Could not be counted now: put back for a later try (by any process)."""
        with contextlib.suppress(OSError):
            self.path.rename(self.path.with_name(self.key + SUFFIX))


def dead_ledgers(directory: Path) -> Iterator[DeadLedger]:
    """Ledgers of this host's processes that are gone, each claimed by a rename so that
    two processes looking at once never count the same one twice."""
    host = socket.gethostname()
    try:
        names = [p.name for p in directory.iterdir()]
    except OSError:
        return
    for name in names:
        name = _unclaim_abandoned(directory, name)
        if not name.endswith(SUFFIX):
            continue
        key = name.removesuffix(SUFFIX)
        found_host, pid_text, ticks = _key_fields(key)
        if found_host != host or not pid_text.isdigit() or _alive(int(pid_text), ticks):
            continue
        claimed = directory / f"{name}{CLAIMED}{current_pid()}"
        try:
            os.rename(directory / name, claimed)
            data = claimed.read_bytes()
        except OSError:
            continue  # another process claimed it first
        taken, settled = _COUNTS.unpack(data[: _COUNTS.size].ljust(_COUNTS.size, b"\0"))
        yield DeadLedger(key, claimed, taken, settled)


def _unclaim_abandoned(directory: Path, name: str) -> str:
    """A ledger claimed by a process that died before counting it is put back."""
    ledger, found, claimer = name.partition(SUFFIX + CLAIMED)
    if not found or not claimer.isdigit() or _alive(int(claimer), UNKNOWN_START):
        return name
    with contextlib.suppress(OSError):
        os.rename(directory / name, directory / (ledger + SUFFIX))
    return ledger + SUFFIX
