"""Read-only commands never write: `inspect`, `report` and `compare` leave every file they
are given as it was (bytes and directory), and refuse a file that is not a probe store."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.commands.test_inspect import assert_one_line_error, perflab
from tests.report.test_report import joined_run  # noqa: F401 - a fixture


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``directory``: its content's hash and its modification time."""
    return {
        str(p.relative_to(directory)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_reading_a_probe_store_changes_no_file(joined_run, tmp_path):  # noqa: F811
    run_dir, store = joined_run
    before = snapshot(tmp_path)
    commands = [
        *(
            ["inspect", view, "--store", str(store)]
            for view in ("routes", "requests", "sql", "findings")
        ),
        ["inspect", "request", "a1", "--store", str(store)],
        ["compare", str(run_dir), str(run_dir), "--format", "json"],
        ["report", str(run_dir), "-o", str(tmp_path.parent / "report.html")],
    ]
    # The app's writer holding the store's write lock (as while it commits a batch) does
    # not stop a reader: a command that took a write lock itself would wait it out and fail.
    writer = sqlite3.connect(store, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        for command in commands:
            done = perflab(*command)
            assert done.returncode == 0, (command, done.stderr)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert snapshot(tmp_path) == before


@pytest.fixture
def app_database(tmp_path) -> Path:
    """An app's own SQLite database, in the state a person would point perflab at."""
    path = tmp_path / "db.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE blog_post (id INTEGER PRIMARY KEY, title TEXT)")
    connection.execute("INSERT INTO blog_post (title) VALUES ('hello')")
    connection.commit()
    connection.close()
    return path


def test_an_app_database_is_refused_and_left_as_it_was(app_database, joined_run, tmp_path):  # noqa: F811
    run_dir, _ = joined_run
    before = snapshot(tmp_path)
    for command in (
        ["inspect", "routes", "--store", str(app_database)],
        ["report", str(run_dir), "--store", str(app_database),
         "-o", str(tmp_path.parent / "r.html")],
        ["compare", str(run_dir), str(run_dir), "--new-store", str(app_database)],
    ):  # fmt: skip
        assert_one_line_error(perflab(*command), f"not a probe store: {app_database}")
    assert snapshot(tmp_path) == before
    tables = sqlite3.connect(app_database).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("blog_post",)]


def test_a_store_missing_tables_the_readers_need_is_refused(joined_run, tmp_path):  # noqa: F811
    run_dir, store = joined_run
    partial = tmp_path / "partial.sqlite3"
    partial.write_bytes(store.read_bytes())
    connection = sqlite3.connect(partial)
    connection.execute("DROP TABLE perflab_finding")
    connection.commit()
    connection.close()
    expected = f"an incomplete probe store: {partial} has no perflab_finding"
    for command in (
        ["inspect", "findings", "--store", str(partial)],
        ["report", str(run_dir), "--store", str(partial), "-o", str(tmp_path.parent / "r.html")],
        ["compare", str(run_dir), str(run_dir), "--new-store", str(partial)],
    ):
        assert_one_line_error(perflab(*command), expected)
