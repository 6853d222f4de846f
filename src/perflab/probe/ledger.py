"""Each writing process's ledger: records taken and records accounted for, in a file that
outlives the process, so that what a killed process held unwritten is counted, not lost.

A record is taken on the request path (``BackgroundWriter.submit``) and accounted for when
the batch holding it (or the counter of records dropped) is committed. A process killed
with SIGKILL (out of memory, a timeout, a deploy) takes its queue with it; its ledger stays.
Another process of the same host finds it (the process is gone), counts the difference as
``lost_in_dead_process`` in the store and removes it. The store keeps each process's
accounted-for count too, committed with each batch, so a process killed between its commit
and its ledger update is not counted twice.

The counts are written with ``pwrite`` (about a microsecond), not through a memory map: a
mapped file that turns unwritable or short under the process (made immutable, truncated)
faults with SIGBUS, which would kill the app's worker. A ledger that cannot be made (the
directory is unwritable) leaves the writer working: it then says that a killed process's
losses cannot be counted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from perflab.probe.process import current_pid

_COUNTS = struct.Struct("<qq")  # taken, settled
_COUNT = struct.Struct("<q")
SUFFIX = ".ledger"
CLAIMED = ".claimed-"  # then the claiming process's pid
UNKNOWN_START = "0"


def ledger_directory(store: dict[str, str]) -> Path:
    """Next to a store file; for a store on a database alias, per alias in the temporary
    directory (processes of one host reconcile each other; each host has its own)."""
    if "PATH" in store:
        path = Path(store["PATH"])
        return path.with_name(path.name + "-ledgers")
    return Path(tempfile.gettempdir()) / f"perflab-ledgers-{os.getuid()}-{store['ALIAS']}"


def _start_ticks(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot ("" where /proc is absent,
    or the process is gone): tells a live process from a new one that reuses its pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    return fields[19].decode()  # field 22 of proc(5); the first two precede the ")"


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
        self.key = f"{socket.gethostname()}.{pid}.{_start_ticks(pid) or UNKNOWN_START}"
        self.path = directory / (self.key + SUFFIX)
        self.problem = ""
        self._fd: int | None = None
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            # Written out, not left sparse: later writes replace bytes and need no space.
            os.write(fd, _COUNTS.pack(0, 0))
            self._fd = fd
        except OSError as exc:
            self.problem = f"no ledger at {self.path}: {exc}"

    def took(self, taken: int) -> None:
        """Records taken so far (called per record, on the request path)."""
        if self._fd is not None:
            try:
                os.pwrite(self._fd, _COUNT.pack(taken), 0)
            except OSError as exc:
                self._fail(exc)

    def settled(self, settled: int) -> None:
        """Records accounted for so far (written, or counted as dropped)."""
        if self._fd is not None:
            try:
                os.pwrite(self._fd, _COUNT.pack(settled), _COUNT.size)
            except OSError as exc:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.problem = f"ledger {self.path} failed: {exc}"
        self.close(remove=False)

    def close(self, remove: bool) -> None:
        """Stop writing; ``remove`` when everything taken was accounted for."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if remove:
            with contextlib.suppress(OSError):
                self.path.unlink()


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
        found_host, pid_text, ticks = [*key.rsplit(".", 2), "", ""][:3]
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
