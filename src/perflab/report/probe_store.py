"""Opening a probe store a person named: checked read-only first, so nothing is created.

A store creates its tables on first use, which is right for the probe's writer
and wrong for a reader given a mistyped path or the app's own database file: the reader
would make an empty store there (or add tables to that database) and show nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from perflab.errors import PerflabError
from perflab.probe.store.schema import READ_TABLES

__all__ = ["open_probe_store", "probe_store_problem"]


def probe_store_problem(path: Path) -> str | None:
    """Why ``path`` is not a probe store, or None; checked read-only, so nothing is created."""
    if not path.is_file():
        return f"probe store not found: {path}"
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            connection.close()
    except sqlite3.Error:
        found = set()
    if not found & READ_TABLES:
        return f"not a probe store: {path}"
    missing = sorted(READ_TABLES - found)
    return f"an incomplete probe store: {path} has no {', '.join(missing)}" if missing else None


def open_probe_store(path: Path | str, hint: str = ""):
    """The store at ``path``, read-only; a one-line ``PerflabError`` (exit 2) when there is
    none there (``hint`` is added to the "no probe store" message)."""
    from perflab.probe.store.reader import StoreReader

    path = Path(path)
    if not path.is_file():
        raise PerflabError(f"no probe store at {path}{hint}")
    problem = probe_store_problem(path)
    if problem:
        raise PerflabError(problem)
    return StoreReader.at_path(path, read_only=True)
