"""`perflab inspect` as a person runs it: a subprocess, its tables and its one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perflab.probe.fingerprint import text_hash
from perflab.probe.records import (
    CacheEvent,
    Finding,
    QueryEvent,
    RequestRecord,
    SpanEvent,
    TemplateEvent,
)
from perflab.probe.sqltext import shorten_sql
from perflab.probe.store import RecordingStore

CONSOLE_SCRIPT = Path(sys.executable).with_name("perflab")
TEMPLATE_LINE = "includes/card.html:5"
APP_LINE = "blog/views.py:31:index"
TWELVE = ", ".join(f'"t"."c{i:02d}"' for i in range(12))
# Six statements on one table: the same twelve columns, then what tells them apart.
SIX = [f'SELECT {TWELVE} FROM "t" {tail}' for tail in (
    'WHERE "t"."id" = ?', 'WHERE "t"."author_id" = ?', 'WHERE "t"."slug" = ?',
    'ORDER BY "t"."created" DESC', 'WHERE "t"."id" IN (...)', 'LIMIT ?',
)]  # fmt: skip


def perflab(*args: str, cwd: Path | None = None, script: bool = False, **env: str):
    """perflab in a child process, without the test process's DJANGO_SETTINGS_MODULE."""
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    command = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "perflab"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env={**base, **env})  # fmt: skip


def cells(line: str) -> list[str]:
    """A rich table row's cells, stripped."""
    return [cell.strip() for cell in line.split("│")[1:-1]]


def assert_one_line_error(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert expected in lines[0], lines[0]


def statement(fingerprint: str, **where) -> QueryEvent:
    sql = fingerprint.replace("?", "1")
    return QueryEvent(sql, fingerprint, text_hash(fingerprint), 1.5, "default", 0.0, **where)


def request(request_id: str, path: str, route: str, started: float, **kw) -> RequestRecord:
    return RequestRecord(request_id=request_id, method="GET", path=path, started=started, pid=1,
                         route=route, status=200, duration_ms=12.0, **kw)  # fmt: skip


def write_store(path: Path) -> Path:
    """One detailed request (r1) with a cache, templates, spans, located findings and six
    statements on one table; a few more requests on other paths."""
    now = time.time()
    image = 'SELECT "img"."id", "img"."file" FROM "img" WHERE "img"."id" = ?'
    located = [statement(image, template=TEMPLATE_LINE, location=TEMPLATE_LINE)] * 5
    r1 = request(
        "r1", "/api/posts/42/", "api/posts/<pk>/", now,
        queries=[*located, *(statement(sql, callsite=APP_LINE, location=APP_LINE) for sql in SIX)],
        cache=[CacheEvent("get", "default", 0.25, hits=1), CacheEvent("get_many", "default", 0.5,
                                                                        hits=2, misses=1, keys=3)],
        templates=[TemplateEvent("blog/post_detail.html", 3.25),
                   TemplateEvent("includes/card.html", 1.75)],
        spans=[SpanEvent("render cards", 1.0, 4.5), SpanEvent("thumbnails", 2.0, 1.5, depth=1)],
        findings=[Finding("n_plus_one", text_hash(image), image, None, 5, 7.5,
                          image.replace("?", "1"), "select_related('image')",
                          template=TEMPLATE_LINE, location=TEMPLATE_LINE)],
    )  # fmt: skip
    RecordingStore.at_path(path).write([
        request("p7", "/api/posts/7/", "api/posts/<pk>/", now - 30),
        request("list", "/api/posts/", "api/posts/", now - 20),
        request("authors", "/api/authors/", "api/authors/", now - 10),
        r1,
    ])  # fmt: skip
    return path


@pytest.fixture
def store(tmp_path) -> Path:
    return write_store(tmp_path / "probe.sqlite3")


def test_request_prints_cache_templates_and_spans_as_tables(store):
    done = perflab("inspect", "request", "r1", "--store", str(store))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "{'" not in out and "'operation'" not in out  # no Python dicts
    lines = out.splitlines()
    header = next(line for line in lines if "operation" in line)
    for heading in ("cache", "keys", "hits", "misses", "ms"):
        assert heading in header
    get_many = next(line for line in lines if "get_many" in line)
    # no start, no place (a record from before cache calls carried one)
    assert cells(get_many) == ["get_many", "default", "3", "2", "1", "-", "0.50", "-"]
    assert any("blog/post_detail.html" in line and "3.25" in line for line in lines)
    assert any("thumbnails" in line and "1.50" in line for line in lines)
    # Statements and the finding say where they ran.
    assert any(TEMPLATE_LINE in line and '"img"' in line for line in lines)


def test_findings_show_their_location(store):
    table = perflab("inspect", "findings", "--store", str(store))
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "N+1" in line and "│" in line)
    assert TEMPLATE_LINE in row and "api/posts/<pk>/" in row
    assert f"N+1 at {TEMPLATE_LINE}:" in table.stdout
    (finding,) = json.loads(perflab("inspect", "findings", "--json", "--store", str(store)).stdout)
    assert finding["location"] == TEMPLATE_LINE and finding["callsite"] is None


def test_sql_keeps_statements_on_one_table_apart(store):
    done = perflab("inspect", "sql", "--store", str(store), "--limit", "50")
    assert done.returncode == 0, done.stderr
    assert len({sql[:120] for sql in SIX}) == 1  # what the old fixed cut showed
    for sql in SIX:
        assert shorten_sql(sql) in done.stdout
    assert done.stdout.count('SELECT "t"."c00", … (12 columns) FROM "t"') == 6


def test_requests_filtered_by_path(tmp_path):
    store = write_store(tmp_path / "probe.sqlite3")
    # Newer traffic elsewhere: more than a page of it, so the filter reads on past it.
    RecordingStore.at_path(store).write([
        request(f"tag{n}", "/api/tags/", "api/tags/", time.time() + n) for n in range(1_100)
    ])  # fmt: skip

    def ids(*args: str) -> list[str]:
        done = perflab("inspect", "requests", "--json", "--store", str(store), *args)
        assert done.returncode == 0, done.stderr
        return [r["request_id"] for r in json.loads(done.stdout)]

    assert ids("--path", "/api/posts/7/") == ["p7"]
    assert ids("--path", "api/posts/7/") == ["p7"]  # the leading "/" is implied
    assert ids("--path", "/api/posts/*") == ["r1", "list", "p7"]  # newest first
    assert ids("--path", "/api/posts/*", "--limit", "2") == ["r1", "list"]
    assert ids("--path", "/api/posts/*", "--route", "api/posts/<pk>/") == ["r1", "p7"]
    assert ids("--path", "/api/post") == []  # exact unless it ends in *
    table = perflab("inspect", "requests", "--store", str(store), "--path", "/api/posts/7/")
    assert "GET /api/posts/7/" in table.stdout and "api/posts/<pk>/" in table.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["requests", "--path", "/api/posts/?page=2"], "without its query string"),
        (["requests", "--path", "/api/*/comments/"], "a prefix ending in *"),
        (["routes", "--path", "/api/posts/"], "--path filters `perflab inspect requests` only"),
    ],
)
def test_bad_path_filters_are_one_line_errors(store, args, expected):
    assert_one_line_error(perflab("inspect", *args, "--store", str(store)), expected)


def test_a_missing_or_foreign_store_is_refused_and_never_made(tmp_path):
    missing = tmp_path / "nowhere" / "probe.sqlite3"
    assert_one_line_error(perflab("inspect", "routes", "--store", str(missing)),
                          f"no probe store at {missing}")  # fmt: skip
    assert not missing.parent.exists()
    app_db = tmp_path / "app.sqlite3"
    sqlite3.connect(app_db).execute("CREATE TABLE blog_post (id INTEGER)").connection.commit()
    assert_one_line_error(perflab("inspect", "sql", "--store", str(app_db)),
                          f"not a probe store: {app_db}")  # fmt: skip
    tables = sqlite3.connect(app_db).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("blog_post",)]  # no perflab table was added to the app's database
    # The default store (PERFLAB_DATA_DIR/probe.sqlite3) is not made either.
    default = perflab("inspect", "routes", PERFLAB_DATA_DIR=str(tmp_path / "data"))
    assert_one_line_error(default, "serve the app with the probe first")
    assert not (tmp_path / "data").exists()


def settings_module(directory: Path, body: str) -> str:
    (directory / "proj_settings.py").write_text(
        'SECRET_KEY = "test"\nUSE_TZ = True\nINSTALLED_APPS = []\nDATABASES = {}\n' + body
    )
    return "proj_settings"


def test_without_store_the_project_settings_name_it(tmp_path, store):
    project = tmp_path / "project"
    project.mkdir()
    module = settings_module(project, f"PERFLAB = {{'STORE': {{'PATH': {str(store)!r}}}}}\n")
    # The console script, run from the project's directory (as `manage.py` would be).
    elsewhere = str(tmp_path / "data")  # the default store would be here: it is not read
    done = perflab("inspect", "routes", cwd=project, script=True,
                   DJANGO_SETTINGS_MODULE=module, PERFLAB_DATA_DIR=elsewhere)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "GET api/posts/<pk>/" in done.stdout and "GET api/authors/" in done.stdout
    # --store still wins.
    other = write_store(tmp_path / "other.sqlite3")
    RecordingStore.at_path(other).write([request("x", "/only/", "only-here/", time.time())])
    chosen = perflab("inspect", "routes", "--store", str(other), cwd=project,
                     DJANGO_SETTINGS_MODULE=module)  # fmt: skip
    assert "only-here/" in chosen.stdout


def test_a_store_on_a_database_alias(tmp_path, store):
    project = tmp_path / "project"
    project.mkdir()
    databases = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "app.db")},
        "perflab": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(store)},
    }
    module = settings_module(project, f"DATABASES = {databases!r}\nINSTALLED_APPS = ['perflab']\n"
                             "PERFLAB = {'STORE': {'ALIAS': 'perflab'}}\n")  # fmt: skip
    done = perflab("inspect", "findings", cwd=project, DJANGO_SETTINGS_MODULE=module)
    assert done.returncode == 0, done.stderr
    assert TEMPLATE_LINE in done.stdout
    # An alias whose database holds no store: said, and no tables are made there.
    databases["perflab"]["NAME"] = str(tmp_path / "empty.db")
    sqlite3.connect(tmp_path / "empty.db").execute("CREATE TABLE t (x)").connection.commit()
    module = settings_module(project, f"DATABASES = {databases!r}\n"
                             "PERFLAB = {'STORE': {'ALIAS': 'perflab'}}\n")  # fmt: skip
    empty = perflab("inspect", "routes", cwd=project, DJANGO_SETTINGS_MODULE=module)
    assert_one_line_error(empty, "no probe store on database alias 'perflab'")
    tables = sqlite3.connect(tmp_path / "empty.db").execute("SELECT name FROM sqlite_master")
    assert tables.fetchall() == [("t",)]


@pytest.mark.parametrize(
    ("module", "body", "expected"),
    [
        ("no_such_settings", None, "DJANGO_SETTINGS_MODULE=no_such_settings: No module named"),
        ("proj_settings", "PERFLAB = {'NOPE': 1}\n", "PERFLAB has unknown keys ['NOPE']"),
        ("proj_settings", "PERFLAB = {'STORE': {'PATH': 'gone/probe.sqlite3'}}\n",
         "no probe store at gone/probe.sqlite3 (PERFLAB['STORE'] of proj_settings)"),
        ("proj_settings", "PERFLAB = {'STORE': {'ALIAS': 'missing'}}\n",
         "cannot read the store on database alias 'missing'"),
        ("proj_settings", "raise RuntimeError('settings\\nexploded')\n",
         "DJANGO_SETTINGS_MODULE=proj_settings: settings"),  # its first line only
    ],
)  # fmt: skip
def test_project_settings_problems_are_one_line_errors(tmp_path, module, body, expected):
    if body is not None:
        settings_module(tmp_path, body)
    done = perflab("inspect", "routes", cwd=tmp_path, DJANGO_SETTINGS_MODULE=module)
    assert_one_line_error(done, expected)
    assert not (tmp_path / "gone").exists()


def test_minutes_windows_every_listing(tmp_path):
    """--minutes reads the last N minutes of requests, findings, SQL and routes alike."""
    path = write_store(tmp_path / "probe.sqlite3")
    hour_ago = time.time() - 3600
    old = request("old", "/api/old/", "api/old/", hour_ago,
                  queries=[statement("SELECT 1 FROM old", callsite=APP_LINE)] * 2,
                  findings=[Finding("duplicate", "h", "SELECT 1 FROM old", APP_LINE, 2, 3.0,
                                    "SELECT 1 FROM old")])  # fmt: skip
    RecordingStore.at_path(path).write([old])

    def listed(view: str, *extra: str) -> list[dict]:
        done = perflab("inspect", view, "--json", "--store", str(path), *extra)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    for view in ("requests", "findings", "sql", "routes"):
        recent, everything = listed(view, "--minutes", "10"), listed(view)
        assert "old" not in json.dumps(recent), view
        assert "old" in json.dumps(everything), view
