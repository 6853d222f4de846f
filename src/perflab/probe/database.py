"""The store's database connection: a SQLite file of its own, or a Django database alias.

Both speak the same SQL with ``%s`` placeholders; this module hides the difference
(placeholder style, autoincrement and blob types, how a write transaction starts).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_S = 5.0
JOURNAL_MODE = "TRUNCATE"  # a rollback journal: see SQLiteDatabase


class StoreUnavailable(Exception):
    """The store cannot be read or written now (locked, full, unwritable, unreachable)."""


class _Cursor:
    """A DB-API cursor taking ``%s`` placeholders whatever the driver wants."""

    def __init__(self, raw, translate: bool) -> None:
        self.raw = raw
        self.translate = translate

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.translate else sql

    def execute(self, sql: str, params: tuple | list = ()) -> _Cursor:
        self.raw.execute(self._sql(sql), params)
        return self

    def executemany(self, sql: str, rows: list) -> None:
        self.raw.executemany(self._sql(sql), rows)

    def fetchone(self):
        return self.raw.fetchone()

    def fetchall(self) -> list:
        return self.raw.fetchall()

    def dicts(self) -> list[dict[str, Any]]:
        names = [d[0] for d in self.raw.description]
        return [dict(zip(names, row, strict=True)) for row in self.raw.fetchall()]


class SQLiteDatabase:
    """A SQLite file with a rollback journal; one connection per thread.

    Not WAL: a WAL index is a memory-mapped ``-shm`` file, and when that file turns
    unwritable or is cut short under a running process (made immutable, disk trouble), the
    next access to the mapping is a SIGBUS that kills the app's worker. A rollback journal
    and ``mmap_size=0`` keep every access to the store a read or write system call, whose
    failures are errors the writer counts and retries. Readers then wait for a commit in
    progress (the busy timeout covers it); the writer commits a batch per flush interval.

    A connection is checked against the file at its path before each use and after each
    commit: a store deleted, replaced or recreated under a running process is reconnected
    to (the writer then creates its tables again) instead of written into an unlinked file.
    A connection that failed is closed, so the next attempt opens a fresh one: a file that
    was unwritable when the connection opened (SQLite then falls back to read-only) is
    written again once it is writable.
    """

    vendor = "sqlite"
    autoincrement_id = "INTEGER PRIMARY KEY AUTOINCREMENT"
    blob = "BLOB"
    row_lock = ""  # BEGIN IMMEDIATE already serialises writers

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.connects = 0  # connections opened so far: a new one may be a new file
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SQLite store {self.path}"

    def _identity(self) -> tuple[int, int] | None:
        """The file now at the path (device, inode), or None when there is none."""
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return found.st_dev, found.st_ino

    def generation(self) -> int:
        """This thread's connection's number, after reconnecting if the file at the path is
        not the one it is connected to: a new number may be a new, empty file."""
        self._connection()
        return self._local.generation

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and self._identity() != self._local.identity:
            self.close()  # deleted or replaced since: that file is not the store any more
            connection = None
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
            self._local.identity = self._identity()
            self.connects += 1
            self._local.generation = self.connects
        return connection

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.read_only:
                # mode=ro: never creates the file, never converts its journal, never writes.
                connection = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                    timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False,
                )  # fmt: skip
                connection.execute("PRAGMA query_only=ON")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                    check_same_thread=False,
                )  # fmt: skip
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute(f"PRAGMA journal_mode={JOURNAL_MODE}")
            connection.execute("PRAGMA mmap_size=0")
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"{self}: {exc}") from exc
        return connection

    @contextmanager
    def cursor(self, write: bool = False) -> Iterator[_Cursor]:
        """A cursor; with ``write`` inside one IMMEDIATE transaction (serialises processes)."""
        connection = self._connection()
        try:
            if write:
                connection.execute("BEGIN IMMEDIATE")
            try:
                yield _Cursor(connection.cursor(), translate=True)
            except BaseException:
                if write and connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            if write:
                connection.execute("COMMIT")
                if self._identity() != self._local.identity:
                    self.close()
                    raise StoreUnavailable(f"{self}: the file was replaced during a write")
        except sqlite3.Error as exc:
            self.close()
            raise StoreUnavailable(f"{self}: {exc}") from exc

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            with suppress(sqlite3.Error):
                connection.close()
            self._local.connection = None


class DjangoAliasDatabase:
    """A database configured in ``DATABASES`` (PostgreSQL, for several hosts)."""

    def __init__(self, alias: str, read_only: bool = False) -> None:
        from django.db import connections

        self.alias = alias
        self.read_only = read_only
        self.vendor = connections[alias].vendor
        postgres = self.vendor == "postgresql"
        self.autoincrement_id = (
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
            if postgres
            else "INTEGER PRIMARY KEY AUTOINCREMENT"
        )
        self.blob = "BYTEA" if postgres else "BLOB"
        self.row_lock = " FOR UPDATE" if postgres else ""  # concurrent rollup merges

    def __repr__(self) -> str:
        return f"store on database alias {self.alias!r}"

    def generation(self) -> int:
        """Always 0: Django reconnects by itself, and the tables stay where they are."""
        return 0

    @contextmanager
    def cursor(self, write: bool = False) -> Iterator[_Cursor]:
        from django.db import DatabaseError, connections, transaction

        try:
            with transaction.atomic(using=self.alias), connections[self.alias].cursor() as raw:
                yield _Cursor(raw, translate=False)
        except DatabaseError as exc:
            # A broken connection stays broken in this thread until closed (Django closes
            # unusable ones only between requests, and the writer thread serves none).
            if not connections[self.alias].in_atomic_block:
                connections[self.alias].close_if_unusable_or_obsolete()
            raise StoreUnavailable(f"{self}: {exc}") from exc

    def close(self) -> None:
        from django.db import connections

        connections[self.alias].close()
