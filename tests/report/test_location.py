"""One display string for where a finding or statement is, whatever parts are known."""

from __future__ import annotations

import pytest

from perflab.report.location import location_of

CALLSITE = "blog/views.py:12:index"
TEMPLATE = "includes/card.html:5"
ORIGIN = "blog.views.PostList \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} serializers.py:9:f"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"location": "given", "callsite": CALLSITE}, "given"),  # the store's own string wins
        ({"callsite": CALLSITE, "template": TEMPLATE}, f"{CALLSITE} ← {TEMPLATE}"),
        ({"callsite": CALLSITE, "origin": ORIGIN}, CALLSITE),
        ({"callsite": None, "template": TEMPLATE, "origin": ORIGIN}, TEMPLATE),
        ({"callsite": None, "template": None, "origin": ORIGIN}, ORIGIN),
        ({"callsite": None}, None),  # a row from before locations: nothing to show
    ],
)
def test_location_prefers_the_app_line_and_keeps_the_template(row, expected):
    assert location_of(row) == expected
