"""The ``--perflab`` sweep on the sample project's known N+1s (its README lists them): each
found once with its place, grouped over the tests that meet it, the fixed view clean, the
JSON and HTML files, ``--perflab=fail`` with an allow-list, and nothing at all without
``--perflab``. Then the allow-list's syntax and the grouping, in this process."""

import json

import pytest

from perflab.budgets.sweep import (
    REPORT_ATTRIBUTE,
    AllowEntry,
    Sweep,
    allowed_by,
    grouped,
    library_of,
    parse_allow_list,
)
from perflab.budgets.sweep_report import library_lines
from perflab.probe.records import Finding

# Several tests meet the same N+1 view, through every kind of client the sweep must see.
SUITE = """
import urllib.request

import pytest
from asgiref.sync import async_to_sync
from django.test import TestCase
from rest_framework.test import APIClient


def test_titles(client, books):
    assert client.get("/titles/").status_code == 200


def test_titles_twice(client, books):
    client.get("/titles/")
    client.get("/titles/")


class TestTitles(TestCase):  # unittest-style, collected by pytest
    @classmethod
    def setUpTestData(cls):
        from sample.shop.models import Author, Book

        for n in range(3):
            Book.objects.create(title=f"B{n}", author=Author.objects.create(name=f"A{n}"))

    def test_titles(self):
        self.assertEqual(self.client.get("/titles/").status_code, 200)


def test_live_server(live_server, books):
    with urllib.request.urlopen(f"{live_server.url}/titles/", timeout=10) as response:
        assert response.status == 200


def test_book_page(client, books):
    assert b"by A0" in client.get("/books/").content


@pytest.mark.django_db(transaction=True)
def test_book_api(books):
    assert len(APIClient().get("/api/books/").json()) == 3


def test_book_api_fixed(books):
    assert len(APIClient().get("/api/books/fixed/").json()) == 3


def test_twice(client, books):
    assert client.get("/twice/").json() == {"same": True}


def test_async_count(async_client, books):
    assert async_to_sync(async_client.get)("/async/count/").json() == {"authors": 3}


def test_a_loop_in_the_test_code_is_not_swept(books):
    from sample.shop.models import Book

    assert len([book.author.name for book in Book.objects.all()]) == 3
"""
TESTS = 10
TITLES = "sample/shop/views.py:12:book_titles"
TEMPLATE = "shop/book_list.html:3"
SERIALIZER = "sample/shop/serializers.py:13:BookSerializer.author"
TWICE = "sample/shop/views.py:32:first_book_twice"
TITLES_TESTS = [
    "test_shop.py::test_titles",
    "test_shop.py::test_titles_twice",
    "test_shop.py::TestTitles::test_titles",
    "test_shop.py::test_live_server",
]


@pytest.fixture
def suite(sample_project, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # the table's width: a place on one line
    sample_project.makepyfile(test_shop=SUITE)
    return sample_project


def with_allow_list(project, *entries: str) -> None:
    ini = project.path / "pytest.ini"
    ini.write_text(ini.read_text() + "perflab_allow =\n" + "".join(f"    {e}\n" for e in entries))


def failed_tests(result) -> set[str]:
    return {line.split()[1] for line in result.outlines if line.startswith("FAILED ")}


def test_each_finding_once_with_its_place_and_tests(suite):
    # a path right after --perflab is a path, not the option's value
    result = suite.runpytest_subprocess(
        "--perflab", "test_shop.py", "--perflab-html=out/sweep.html"
    )
    result.assert_outcomes(passed=TESTS)
    out = result.stdout.str()
    assert f"perflab sweep: 4 findings in 7 of {TESTS} tests" in out
    for place in (TITLES, TEMPLATE, SERIALIZER, TWICE):
        assert out.count(place) == 1, place  # one row, however many tests met it

    sweep = json.loads((suite.path / "perflab-sweep.json").read_text())
    assert (sweep["schema"], sweep["mode"], sweep["tests_swept"]) == (
        "perflab-sweep/1",
        "report",
        TESTS,
    )
    assert sweep["stale_allow"] == []
    rows = {row["place"]: row for row in sweep["findings"]}
    assert {place: (row["kind"], row["view"], row["count"], row["hint"])
            for place, row in rows.items()} == {
        TITLES: ("n_plus_one", "sample.shop.views.book_titles", 3, "select_related('author')"),
        TEMPLATE: ("n_plus_one", "sample.shop.views.BookListView", 3, "select_related('author')"),
        SERIALIZER: ("n_plus_one", "sample.shop.views.BookListAPI", 3, "select_related('author')"),
        TWICE: ("duplicate", "sample.shop.views.first_book_twice", 2, None),
    }  # fmt: skip
    assert rows[TITLES]["tests"] == TITLES_TESTS  # the live server's thread is swept too
    assert rows[TITLES]["paths"] == ["GET /titles/"]
    assert rows[SERIALIZER]["tests"] == ["test_shop.py::test_book_api"]
    assert 'FROM "shop_author"' in rows[SERIALIZER]["example_sql"]
    assert all(row["allowed_by"] is None for row in rows.values())
    # the fixed view, the async view and the test's own loop found nothing
    assert not {"BookListFixed", "author_count"} & {
        r["view"].rpartition(".")[2] for r in rows.values()
    }

    html = (suite.path / "out" / "sweep.html").read_text()
    assert html.count('<tr class="finding') == 4
    assert (
        "<svg" in html
        and "<script" not in html
        and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )  # self-contained
    for place in (TITLES, TEMPLATE, SERIALIZER, TWICE):
        assert place in html
    assert "select_related(&#39;author&#39;)" in html  # escaped


def test_fail_mode_fails_the_tests_with_a_finding_not_allowed(suite):
    with_allow_list(
        suite,
        "# the book page's template loop is known",
        "n_plus_one shop/book_list.html:*",
        "* sample/shop/views.py:*:first_book_twice sample.shop.views.first_book_twice",
        "duplicate */legacy.py:*",
    )
    result = suite.runpytest_subprocess(
        "--perflab=fail", "--ds=sample.settings_probe", "--perflab-json=out/sweep.json", "-rf"
    )  # the probe's middleware on: its events reach the capture once
    assert failed_tests(result) == {*TITLES_TESTS, "test_shop.py::test_book_api"}
    result.assert_outcomes(passed=TESTS - 5, failed=5)
    out = result.stdout.str()
    assert "perflab sweep: N+1s and duplicates not in perflab_allow (1):" in out
    assert "N+1: 3 statements" in out and f"at {SERIALIZER}" in out
    assert "in GET /api/books/ → sample.shop.views.BookListAPI" in out
    assert "hint: select_related('author')" in out
    assert f"  n_plus_one {SERIALIZER} sample.shop.views.BookListAPI" in out  # allow line
    assert "(2 allowed)" in out
    assert "perflab_allow entry that matched nothing: duplicate */legacy.py:*" in out

    sweep = json.loads((suite.path / "out" / "sweep.json").read_text())
    assert not (suite.path / "perflab-sweep.json").exists()
    assert sweep["mode"] == "fail"
    assert {row["place"]: (row["count"], row["allowed_by"]) for row in sweep["findings"]} == {
        TITLES: (3, None),
        SERIALIZER: (3, None),
        TEMPLATE: (3, "n_plus_one shop/book_list.html:*"),
        TWICE: (2, "* sample/shop/views.py:*:first_book_twice sample.shop.views.first_book_twice"),
    }
    assert sweep["stale_allow"] == ["duplicate */legacy.py:*"]


def test_under_xdist_the_controller_reports_what_the_workers_found(suite):
    result = suite.runpytest_subprocess("-n", "2", "--perflab=fail")
    assert failed_tests(result) == {*TITLES_TESTS, *(f"test_shop.py::test_{name}" for name in (
        "book_page", "book_api", "twice"))}  # fmt: skip
    assert result.stdout.str().count("perflab sweep: 4 findings in 7 of 10 tests") == 1
    sweep = json.loads((suite.path / "perflab-sweep.json").read_text())
    assert sweep["tests_swept"] == TESTS
    assert {row["place"]: sorted(row["tests"]) for row in sweep["findings"]} == {
        TITLES: sorted(TITLES_TESTS),
        TEMPLATE: ["test_shop.py::test_book_page"],
        SERIALIZER: ["test_shop.py::test_book_api"],
        TWICE: ["test_shop.py::test_twice"],
    }


def test_a_malformed_allow_entry_is_a_one_line_usage_error(suite):
    with_allow_list(suite, "n_plus_one shop/book_list.html:*", "nplus1 sample/shop/views.py:*")
    result = suite.runpytest_subprocess("--perflab")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = result.stderr.str()
    assert (
        "perflab_allow: 'nplus1 sample/shop/views.py:*' is not "
        "'<n_plus_one|duplicate|*> <place glob> [<view glob>]'"
    ) in errors
    assert "Traceback" not in errors
    assert not (suite.path / "perflab-sweep.json").exists()


def test_without_perflab_nothing_is_reported_nor_written(suite):
    before = set(suite.path.rglob("*"))
    result = suite.runpytest_subprocess()
    result.assert_outcomes(passed=TESTS)
    assert "perflab sweep" not in result.stdout.str()
    assert {
        p for p in set(suite.path.rglob("*")) - before if p.suffix in (".json", ".html")
    } == set()


def test_report_files_without_perflab_are_a_usage_error(sample_project):
    result = sample_project.runpytest_subprocess("--perflab-html=sweep.html")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--perflab-json and --perflab-html go with --perflab" in result.stderr.str()
    result = sample_project.runpytest_subprocess("--perflab=loud")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--perflab takes report or fail, not 'loud'" in result.stderr.str()


# -- in this process: the allow-list, the grouping, the report's trip from an xdist worker


def test_allow_entries_are_kind_place_glob_and_an_optional_view_glob():
    entries = parse_allow_list([
        "# a comment", "", "n_plus_one   shop/book_list.html:*", "* */serializers.py:* app.views.*",
    ])  # fmt: skip
    assert entries == [
        AllowEntry("n_plus_one shop/book_list.html:*", "n_plus_one", "shop/book_list.html:*"),
        AllowEntry("* */serializers.py:* app.views.*", "*", "*/serializers.py:*", "app.views.*"),
    ]
    assert allowed_by(entries, "n_plus_one", "shop/book_list.html:3", "x.View") == entries[0].text
    assert allowed_by(entries, "duplicate", "shop/book_list.html:3", "x.View") is None
    assert allowed_by(entries, "duplicate", "a/serializers.py:4:S.f", "app.views.List") == (
        entries[1].text
    )
    assert allowed_by(entries, "duplicate", "a/serializers.py:4:S.f", "other.views.List") is None


@pytest.mark.parametrize(
    "line", ["n_plus_one", "N+1 shop/*", "n_plus_one a b c", "duplicates views.py:*"]
)
def test_a_malformed_allow_entry_names_itself_and_the_syntax(line):
    with pytest.raises(pytest.UsageError, match=r"perflab_allow: .* is not '<n_plus_one\|"):
        parse_allow_list([line])


def found(test: str, place: str, count: int, view: str = "app.views.list", kind="n_plus_one"):
    return {
        "test": test, "kind": kind, "place": place, "view": view, "fingerprint_hash": "h1",
        "count": count, "hint": None, "location": place, "fingerprint": "SELECT ?",
        "example_sql": "SELECT 1", "path": "GET /list/", "total_ms": float(count),
        "library": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("callsite", "template", "origin", "library"),
    [
        # no app line: the origin's file is an installed library's, wherever the venv is
        (None, None, ".venv/lib/python3.12/site-packages/wagtail/models/pages.py:673:clean",
         "wagtail"),
        (None, None, "rest_framework/mixins.py:40:list", "rest_framework"),
        # a DRF serializer field declared in the app (the file is the project's)
        (None, None, "tests/budgets/sample_project/sample/shop/serializers.py:13:S.author", None),
        ("app/views.py:12:index", None, "django/db/models/query.py:1:get", None),  # app line
        (None, "shop/book_list.html:3", None, None),  # a template line
    ],
)  # fmt: skip
def test_a_finding_with_no_app_line_is_named_by_its_library(callsite, template, origin, library):
    finding = Finding(
        kind="n_plus_one", fingerprint_hash="h", fingerprint="SELECT ?", callsite=callsite,
        count=2, total_ms=1.0, example_sql="SELECT 1", template=template, origin=origin,
    )  # fmt: skip
    assert library_of(finding) == library  # perflab's own suite runs from the checkout


def test_library_findings_are_one_line_per_package_with_the_allow_entry_to_write():
    rows = grouped(
        [
            {**found("t::a", "wagtail/models/pages.py:673:clean", 3), "library": "wagtail"},
            {**found("t::a", "wagtail/models/audit_log.py:274:save", 2), "library": "wagtail"},
            {**found("t::a", "treebeard/mp_tree.py:982:get_parent", 2), "library": "treebeard"},
            found("t::a", "app/views.py:3:list", 4),
        ],
        parse_allow_list(["* treebeard/*"]),
    )
    assert sorted(row.library or "" for row in rows) == ["", "treebeard", "wagtail", "wagtail"]
    assert library_lines(rows) == [
        "inside wagtail (no app line): 2 findings; allow them with '* wagtail/*'",
        "inside treebeard (no app line): 1 finding, 1 allowed",
    ]


def test_one_row_per_finding_with_the_most_statements_and_its_tests_in_order():
    rows = grouped(
        [
            found("t::b", "app/views.py:3:list", 4),
            found("t::a", "app/views.py:3:list", 7),
            found("t::b", "app/views.py:3:list", 2),
            found("t::a", "app/views.py:3:list", 2, view="app.views.other"),
            found("t::c", "app/views.py:9:list", 5, kind="duplicate"),
        ],
        parse_allow_list(["duplicate app/views.py:*"]),
    )
    assert [(r.place, r.view, r.count, r.tests, r.total_ms, r.allowed_by) for r in rows] == [
        ("app/views.py:3:list", "app.views.list", 7, ["t::b", "t::a"], 7.0, None),
        ("app/views.py:9:list", "app.views.list", 5, ["t::c"], 5.0, "duplicate app/views.py:*"),
        ("app/views.py:3:list", "app.views.other", 2, ["t::a"], 2.0, None),
    ]


def test_findings_on_a_report_survive_the_trip_from_a_worker(pytestconfig):
    """What pytest-xdist does with a worker's report (serialize, rebuild on the controller)
    keeps the sweep's findings, and the controller groups them from the reports alone."""
    hook = pytestconfig.hook
    sweep = Sweep(pytestconfig)
    for test, count in (("t::a", 3), ("t::b", 5)):
        report = pytest.TestReport(
            test, ("t.py", 1, test), {}, "passed", None, "call",
            **{REPORT_ATTRIBUTE: [found(test, "app/views.py:3:list", count)]},
        )  # fmt: skip
        data = hook.pytest_report_to_serializable(config=pytestconfig, report=report)
        sweep.pytest_runtest_logreport(
            hook.pytest_report_from_serializable(
                config=pytestconfig, data=json.loads(json.dumps(data))
            )
        )
    summary = sweep.summary()
    assert summary.tests_swept == 2
    assert [(r.count, r.tests) for r in summary.findings] == [(5, ["t::a", "t::b"])]
