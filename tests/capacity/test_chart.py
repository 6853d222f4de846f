"""capacity.svg: one point per step, the knee circled, well-formed SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from perflab.capacity.chart import write_chart
from tests.capacity.helpers import step

SVG = "{http://www.w3.org/2000/svg}"


def test_a_point_per_step_and_the_knee_circled(tmp_path):
    steps = [step(40, 12), step(60, 13), step(90, 15), step(135, 1400, achieved=97, passed=False)]
    path = write_chart(steps, steps[2], tmp_path / "capacity.svg")
    circles = ET.parse(path).getroot().findall(f"{SVG}circle")
    assert len(circles) == 4 + 1
    assert [c.get("fill") for c in circles[:4]] == ["#2a7", "#2a7", "#2a7", "#d33"]


def test_nothing_to_draw_with_one_step(tmp_path):
    assert write_chart([step(40, 12)], None, tmp_path / "capacity.svg") is None
    assert not (tmp_path / "capacity.svg").exists()
