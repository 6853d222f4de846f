"""Where a finding or a statement is shown as being: one display string, the same everywhere.

The probe locates a statement by the app's frame (``callsite``), the template line being
rendered (``template``), or, with neither, what was running it (``origin``). The store's
findings rows carry the display string as ``location``; statements in a request's document,
and findings read from a store written before ``location`` existed, carry only the parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["location_of"]


def location_of(row: Mapping[str, Any]) -> str | None:
    """``row["location"]`` when given; else the call site, with " ← template" appended when
    both are known; else the template; else the origin; None when nothing is known."""
    if row.get("location"):
        return row["location"]
    callsite, template = row.get("callsite"), row.get("template")
    if callsite and template:
        return f"{callsite} ← {template}"
    return callsite or template or row.get("origin") or None
