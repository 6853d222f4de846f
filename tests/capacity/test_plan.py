"""The planner on data: ramp, bisection, and that every search ends within its bounds."""

from __future__ import annotations

import pytest

from perflab.capacity.plan import StepPlanner
from perflab.errors import PerflabError


def drive(planner: StepPlanner, limit: float) -> list[float]:
    """Answer the planner as a server that holds every rate up to ``limit``."""
    rates = []
    while (rate := planner.next_rate()) is not None:
        rates.append(rate)
        planner.record(rate, rate <= limit)
        assert len(rates) <= planner.most_steps
    return rates


def test_geometric_ramp_then_bisection_between_last_pass_and_first_fail():
    planner = StepPlanner(start=40, factor=1.5, bisect_steps=3)
    rates = drive(planner, limit=100)
    assert rates[:4] == [40, 60, 90, 135]
    assert rates[4:] == [112.5, 101.2, 95.6]
    assert planner.passing == 95.6
    assert planner.failing == 101.2


def test_additive_steps():
    planner = StepPlanner(start=10, step=10, bisect_steps=1)
    assert drive(planner, limit=35) == [10, 20, 30, 40, 35]
    assert planner.passing == 35


def test_max_rate_is_tried_once_and_ends_the_ramp():
    planner = StepPlanner(start=10, factor=2, max_rate=50)
    assert drive(planner, limit=1000) == [10, 20, 40, 50]
    assert planner.failing is None


def test_max_steps_bounds_the_ramp_and_bisection_the_rest():
    planner = StepPlanner(start=1, factor=2, max_steps=5, bisect_steps=2)
    assert drive(planner, limit=1e9) == [1, 2, 4, 8, 16]
    planner = StepPlanner(start=1, factor=2, max_steps=50, bisect_steps=4)
    rates = drive(planner, limit=1e9 / 3)
    assert len(rates) <= 54 and planner.failing is not None


def test_a_failing_start_ends_the_search_at_once():
    planner = StepPlanner(start=40)
    assert drive(planner, limit=10) == [40]
    assert planner.passing is None and planner.failing == 40


def test_bisection_stops_when_the_bracket_is_narrow():
    planner = StepPlanner(start=100, factor=1.005, bisect_steps=10)
    rates = drive(planner, limit=100.2)
    assert rates == [100, 100.5]  # under 1 % apart: nothing left worth a step


@pytest.mark.parametrize(
    "kwargs",
    [{"start": 0}, {"start": 10, "factor": 1.0}, {"start": 10, "step": -1},
     {"start": 10, "max_rate": 5}, {"start": 10, "max_steps": 0},
     {"start": 10, "bisect_steps": 21}],
)  # fmt: skip
def test_bad_settings_are_one_line_errors(kwargs):
    with pytest.raises(PerflabError):
        StepPlanner(**kwargs)
