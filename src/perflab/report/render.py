"""Render the sections into ONE self-contained HTML file: styles, uPlot and data all inlined.

The file opens from disk with no network: nothing is fetched, so a report attached to a
ticket or kept as a CI artifact looks the same in a year.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, PrefixLoader, select_autoescape
from markupsafe import Markup

from perflab import __version__
from perflab.probe.sqltext import shorten_sql
from perflab.report.data import ReportData
from perflab.report.location import location_of
from perflab.report.section import Section
from perflab.report.sections import report_sections

PAGE_PACKAGE = "perflab.report"  # holds templates/report.html.j2, the page around the sections
DEFAULT_NAME = "report.html"
SHORT_SQL_CHARS = 220  # a statement's one-line form in a table; the full text is one click away


def _static(name: str) -> str:
    return (resources.files("perflab.report") / "static" / name).read_text(encoding="utf-8")


def _script_json(value: Any) -> Markup:
    """JSON safe inside <script>: no "</script>" or "<!--" can end or confuse the element."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _fmt(value: Any, spec: str = ",.1f", suffix: str = "") -> str:
    if value is None:
        return "—"
    try:
        return format(value, spec) + suffix
    except (TypeError, ValueError):
        return str(value)


def environment(packages: set[str] = frozenset()) -> Environment:
    """Templates are named ``package:path``, under ``templates/`` of perflab's report package
    and of each package in ``packages`` (where other packages' sections keep theirs)."""
    loaders = {
        package: PackageLoader(package, "templates") for package in {PAGE_PACKAGE, *packages}
    }
    env = Environment(
        loader=PrefixLoader(loaders, delimiter=":"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = lambda v: _fmt(v, ",.1f")
    env.filters["num"] = lambda v: _fmt(v, ",")
    env.filters["pct"] = lambda v, digits=1: _fmt(
        None if v is None else v * 100, f".{digits}f", " %"
    )
    env.filters["fixed"] = lambda v, digits=1: _fmt(v, f",.{digits}f")
    env.filters["sortval"] = lambda v: "" if v is None else v
    env.filters["shortsql"] = lambda sql, max_chars=SHORT_SQL_CHARS: shorten_sql(sql, max_chars)
    env.filters["location"] = location_of
    return env


def render_html(data: ReportData, sections: list[type[Section]] | None = None) -> str:
    """The whole page as a string; each section (``report_sections()`` unless given) renders
    its own template."""
    sections = sections if sections is not None else report_sections()
    env = environment({section.template_package for section in sections})
    parts, charts, warnings = [], [], []
    for section_class in sections:
        section = section_class(data)
        section_charts = section.charts()
        charts.extend(chart.as_json() for chart in section_charts)
        warnings.extend(section.warnings())
        template = env.get_template(f"{section.template_package}:sections/{section.template}")
        body = template.render(
            section=section, data=data, charts=section_charts, **section.context()
        )
        parts.append({"id": section.id, "title": section.title, "body": Markup(body)})
    return env.get_template(f"{PAGE_PACKAGE}:report.html.j2").render(
        data=data,
        results=data.results,
        sections=parts,
        warnings=warnings,
        charts_json=_script_json(charts),
        chart_count=len(charts),
        version=__version__,
        uplot_js=Markup(_static("uPlot.iife.min.js")),
        uplot_css=Markup(_static("uPlot.min.css")),
        report_js=Markup(_static("report.js")),
        report_css=Markup(_static("report.css")),
    )


def build_report(
    run_dir: Path | str, store: Path | str | None = None, out: Path | str | None = None
) -> Path:
    """Write the report for a run directory and return its path (RUN_DIR/report.html by
    default). ``store`` overrides the probe store recorded in results.json."""
    data = ReportData(run_dir, store)
    target = Path(out) if out else data.run_dir / DEFAULT_NAME
    html = render_html(data)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(target)
    return target
