"""`perflab report --store`: a store that is not there is an error, never made on the spot."""

from __future__ import annotations

import sqlite3

from tests.commands.test_inspect import assert_one_line_error, perflab
from tests.report.test_report import START, write_run

SAMPLE = [("x", "GET", "/api/posts/<pk>/", START, 9.0, 9.0, "")]


def foreign_database(path):
    """An SQLite file that is not a probe store (the app's own database, say)."""
    sqlite3.connect(path).execute("CREATE TABLE blog_post (id INTEGER)").connection.commit()
    return path


def table_names(path) -> list[str]:
    rows = sqlite3.connect(path).execute("SELECT name FROM sqlite_master ORDER BY name")
    return [name for (name,) in rows]


def test_a_store_option_that_is_not_a_store_is_refused(tmp_path):
    run = write_run(tmp_path / "run", SAMPLE)
    missing = tmp_path / "typo" / "probe.sqlite3"
    assert_one_line_error(perflab("report", str(run), "--store", str(missing)),
                          f"no probe store at {missing}")  # fmt: skip
    assert not missing.parent.exists()
    app_db = foreign_database(tmp_path / "app.sqlite3")
    assert_one_line_error(perflab("report", str(run), "--store", str(app_db)),
                          f"not a probe store: {app_db}")  # fmt: skip
    assert table_names(app_db) == ["blog_post"]
    assert not (run / "report.html").exists()


def test_a_recorded_store_that_is_not_a_store_is_said_in_the_report(tmp_path):
    app_db = foreign_database(tmp_path / "app.sqlite3")
    run = write_run(tmp_path / "run", SAMPLE, store=app_db)
    done = perflab("report", str(run))
    assert done.returncode == 0, done.stderr  # the client side still makes a report
    assert f"not a probe store: {app_db}" in (run / "report.html").read_text()
    assert table_names(app_db) == ["blog_post"]
