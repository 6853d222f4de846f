"""The report's sections: perflab's own, one per module here, and those other packages install.

A package adds a section the way pytest plugins and Flask commands are added: one ``Section``
subclass, registered under the ``perflab.report_sections`` entry-point group of its
distribution (``[project.entry-points."perflab.report_sections"] slow_sql =
"mypkg.report:SlowSqlSection"``). Sections are shown by ``order``, perflab's at 100 … 700.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from perflab.errors import PerflabError
from perflab.report.section import Section
from perflab.report.sections.distribution import DistributionSection
from perflab.report.sections.endpoints import EndpointsSection
from perflab.report.sections.facts import FactsSection
from perflab.report.sections.findings import FindingsSection
from perflab.report.sections.slowest import SlowestSection
from perflab.report.sections.timeline import TimelineSection
from perflab.report.sections.verdict import VerdictSection

ENTRY_POINT_GROUP = "perflab.report_sections"

BUILT_IN: tuple[type[Section], ...] = (
    VerdictSection, TimelineSection, DistributionSection, EndpointsSection, FindingsSection,
    SlowestSection, FactsSection,
)  # fmt: skip


def report_sections() -> list[type[Section]]:
    """perflab's sections and the installed ones, by ``order`` (ties: perflab's first, then
    by entry-point name). A section that cannot be loaded, or an id taken twice, is bad
    configuration: one line naming the entry point, not a report without it."""
    found = list(BUILT_IN)
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        found.append(_load(entry))
    seen: dict[str, type[Section]] = {}
    for section in found:
        if section.id in seen:
            raise PerflabError(
                f"report section id {section.id!r} is used by both "
                f"{_dotted(seen[section.id])} and {_dotted(section)}"
            )
        seen[section.id] = section
    return sorted(found, key=lambda section: section.order)


def _load(entry: EntryPoint) -> type[Section]:
    where = f"report section {entry.name!r} ({entry.value}, entry point group {ENTRY_POINT_GROUP})"
    try:
        loaded = entry.load()
    except Exception as exc:  # an installed package's import error is the user's to fix
        raise PerflabError(f"{where} cannot be loaded: {type(exc).__name__}: {exc}") from None
    if not (isinstance(loaded, type) and issubclass(loaded, Section)):
        raise PerflabError(f"{where} is not a perflab.report.section.Section subclass")
    if not (loaded.id and loaded.title and loaded.template):
        raise PerflabError(f"{where} must set id, title and template")
    return loaded


def _dotted(section: type[Section]) -> str:
    return f"{section.__module__}:{section.__qualname__}"
