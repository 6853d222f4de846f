"""The knee: the step after which p95 grows by a larger factor than throughput."""

from __future__ import annotations

from perflab.capacity.knee import find_knee
from tests.capacity.helpers import step


def test_the_knee_is_the_last_step_before_latency_outgrows_throughput():
    steps = [step(40, 12), step(60, 13), step(90, 15), step(135, 1400, achieved=97, passed=False)]
    assert find_knee(steps).target_rate == 90


def test_steps_are_ordered_by_rate_so_bisection_steps_take_their_place():
    steps = [
        step(40, 12), step(60, 12.5), step(90, 13), step(135, 1400, achieved=97),
        step(112.5, 590, achieved=97), step(101, 145, achieved=97.5), step(95, 14),
    ]  # fmt: skip
    assert find_knee(steps).target_rate == 95


def test_millisecond_jitter_on_a_fast_endpoint_is_not_a_knee():
    steps = [step(10, 1.0), step(15, 2.5), step(22, 2.0)]  # p95 x2.5 but only +1.5 ms
    assert find_knee(steps) is None


def test_no_knee_while_latency_grows_slower_than_throughput():
    assert find_knee([step(10, 20), step(20, 30), step(40, 50)]) is None
    assert find_knee([step(10, 20)]) is None
    assert find_knee([]) is None
