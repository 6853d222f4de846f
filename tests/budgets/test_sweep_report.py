"""The sweep's report: its JSON is the declared schema field for field, the HTML page is
self-contained and escapes what the app put in its SQL and paths, and the terminal table
names each finding's place, view, hint and first test."""

import dataclasses
import json

from perflab.budgets.sweep_report import (
    BAR_WIDTH,
    SCHEMA,
    SweepReport,
    SweepRow,
    _table,
    headline,
    render_html,
    write_json,
)


def row(place: str, count: int, tests: list[str], kind="n_plus_one", allowed_by=None) -> SweepRow:
    return SweepRow(
        kind=kind, place=place, view="app.views.PostList", fingerprint_hash="ab12",
        count=count, tests=tests, hint="select_related('author')" if kind == "n_plus_one" else None,
        location=place, fingerprint='SELECT "author" WHERE id = ?',
        example_sql='SELECT "author" WHERE id = %s', paths=["GET /posts/"], total_ms=1.5,
        allowed_by=allowed_by,
    )  # fmt: skip


REPORT = SweepReport(
    mode="fail",
    tests_swept=5,
    findings=[
        row("app/views.py:12:post_list", 6, ["t.py::test_a", "t.py::test_b"]),
        row("posts/list.html:3", 3, ["t.py::test_c"], allowed_by="n_plus_one posts/*"),
        row("app/views.py:40:detail", 2, ["t.py::test_a"], kind="duplicate"),
    ],
    stale_allow=["duplicate legacy/*"],
)


def test_the_json_file_is_the_declared_schema(tmp_path):
    write_json(REPORT, tmp_path / "deep" / "sweep.json")
    data = json.loads((tmp_path / "deep" / "sweep.json").read_text())
    assert data == dataclasses.asdict(REPORT)
    assert set(data) == {f.name for f in dataclasses.fields(SweepReport)}
    assert set(data["findings"][0]) == {f.name for f in dataclasses.fields(SweepRow)}
    assert data["schema"] == SCHEMA == "perflab-sweep/1"
    assert SweepReport(**{**data, "findings": [SweepRow(**r) for r in data["findings"]]}) == REPORT


def test_the_headline_counts_findings_tests_and_allowed():
    assert headline(REPORT) == "3 findings in 3 of 5 tests (1 allowed)"
    assert headline(SweepReport("report", 4)) == "0 findings in 0 of 4 tests"


def test_the_html_page_escapes_and_draws_a_bar_per_finding():
    hostile = dataclasses.replace(
        REPORT,
        findings=[
            *REPORT.findings,
            row('<script>alert("x")</script>.py:1', 3, ["t.py::test_<b>"]),
        ],
    )
    html = render_html(hostile)
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "t.py::test_&lt;b&gt;" in html
    assert html.count('<tr class="finding') == 4 and html.count('<tr class="finding allowed"') == 1
    assert f'width="{BAR_WIDTH}"' in html  # the most statements: the longest bar
    assert f'width="{round(2 / 6 * BAR_WIDTH)}"' in html  # the duplicate's, to scale
    assert "duplicate legacy/*" in html  # the stale entry
    assert "<link" not in html and "src=" not in html  # nothing fetched


def test_a_clean_sweep_says_so():
    html = render_html(SweepReport("report", 3))
    assert "No N+1 and no duplicate statement" in html and "<svg" not in html


def test_the_terminal_table_names_place_view_hint_and_first_test():
    text = _table(REPORT.findings, width=120, color=False)
    for expected in (
        "app/views.py:12:post_list", "view app.views.PostList", "hint select_related('author')",
        "first t.py::test_a", "N+1 (allowed)", "allowed by n_plus_one posts/*", "duplicate",
    ):  # fmt: skip
        assert expected in text, expected
    assert "\x1b[" not in text  # no colour codes where pytest's writer has no markup
