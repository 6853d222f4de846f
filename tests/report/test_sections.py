"""Report sections from other packages: one class, one entry point, rendered in its place.

Each test installs a real (tiny) distribution: a package and its ``.dist-info`` with an
``entry_points.txt`` in a temporary folder put on ``sys.path``, which is all
``importlib.metadata`` reads — the same as ``pip install`` of a package declaring
``[project.entry-points."perflab.report_sections"]``.
"""

from __future__ import annotations

import sys

import pytest

from perflab.errors import ExitCode, PerflabError
from perflab.report.data import ReportData
from perflab.report.render import render_html
from perflab.report.sections import BUILT_IN, ENTRY_POINT_GROUP, report_sections
from tests.report.test_report import START, write_run

SECTION_MODULE = """
from perflab.report.section import Section


class RequestCountSection(Section):
    id = "request-count"
    title = "Requests, by a plugin"
    template = "request_count.html.j2"
    template_package = "{package}"
    order = 450  # between Endpoints (400) and Findings (500)

    def context(self):
        return {{"total": self.data.results.totals.requests}}


class NotASection:
    pass
"""


def install(tmp_path, monkeypatch, package: str, entries: dict[str, str], body: str = "") -> None:
    """A distribution named ``package`` holding one module with sections and a template."""
    root = tmp_path / "site"
    (root / package / "templates" / "sections").mkdir(parents=True)
    (root / package / "__init__.py").write_text(body or SECTION_MODULE.format(package=package))
    (root / package / "templates" / "sections" / "request_count.html.j2").write_text(
        '<p data-plugin="{{ section.id }}">{{ total|num }} requests in all</p>\n'
    )
    dist = root / f"{package}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entries.items())
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, package, raising=False)


def test_without_plugins_the_sections_are_perflabs_in_order():
    assert report_sections() == sorted(BUILT_IN, key=lambda s: s.order)
    assert [s.id for s in report_sections()] == [
        "verdict", "timeline", "distribution", "endpoints", "findings", "slowest", "facts",
    ]  # fmt: skip


def test_an_installed_section_is_rendered_in_its_place(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "plugin_count", {"count": "plugin_count:RequestCountSection"})
    ids = [s.id for s in report_sections()]
    assert ids.index("endpoints") < ids.index("request-count") < ids.index("findings")
    run = write_run(tmp_path / "run", [("x", "GET", "/api/posts/<pk>/", START, 9.0, 9.0, "")])
    html = render_html(ReportData(run))
    assert '<p data-plugin="request-count">100 requests in all</p>' in html
    assert '<a href="#request-count">Requests, by a plugin</a>' in html  # in the page's menu
    assert html.index('id="endpoints"') < html.index("data-plugin") < html.index('id="findings"')


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("plugin_bad:NotASection", "is not a perflab.report.section.Section subclass"),
        ("plugin_bad:Missing", "cannot be loaded: AttributeError"),
        ("plugin_bad_nowhere:Section", "cannot be loaded: ModuleNotFoundError"),
    ],
)
def test_an_entry_point_that_is_no_section_is_one_line_of_bad_configuration(
    tmp_path, monkeypatch, value, message
):
    install(tmp_path, monkeypatch, "plugin_bad", {"broken": value})
    with pytest.raises(PerflabError, match=message) as caught:
        report_sections()
    assert caught.value.exit_code == ExitCode.USAGE
    assert "report section 'broken'" in str(caught.value) and "\n" not in str(caught.value)


def test_a_section_id_taken_twice_is_refused(tmp_path, monkeypatch):
    body = "from perflab.report.sections.facts import FactsSection as Again\n"
    install(tmp_path, monkeypatch, "plugin_twice", {"again": "plugin_twice:Again"}, body)
    with pytest.raises(PerflabError, match="report section id 'facts' is used by both"):
        report_sections()
