"""Time budgets: warm-up and repeats, nearest-rank percentiles, wall and CPU clocks, the
speed factor, and a failure that says what was measured and where the time went.

Real functions of known cost: ``time.sleep`` never returns early, so a sleep's wall time has
a sure lower bound; a busy loop's CPU time has one too. Upper bounds are kept many times
above the cost, so that a loaded 2-core machine does not fail them.
"""

import gc
import random
import re
import time

import pytest

from perflab.budgets.calibration import SPEED_FACTOR_ENV, SpeedFactor
from perflab.budgets.capture import Capture
from perflab.budgets.timing import (
    TimingResult,
    TooSlow,
    assert_fast,
    percentile,
)
from perflab.demo.models import Post
from perflab.errors import ExitCode, PerflabError
from tests.demo.conftest import make_posts, make_user


@pytest.fixture(autouse=True)
def factor_one(monkeypatch):
    """The factor pinned at 1 unless a test says otherwise: no test depends on this
    machine's speed."""
    monkeypatch.setenv(SPEED_FACTOR_ENV, "1")


class Counted:
    """A function that counts its calls and can sleep for the first few (warm-up) ones."""

    def __init__(self, slow_calls: int = 0, slow_s: float = 0.0) -> None:
        self.calls = 0
        self.slow_calls, self.slow_s = slow_calls, slow_s

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.slow_calls:
            time.sleep(self.slow_s)


def busy_cpu(ms: float) -> None:
    """Spin until this thread has used ``ms`` of CPU time."""
    end = time.thread_time() + ms / 1000.0
    while time.thread_time() < end:
        pass


# -- percentiles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "p", "expected"),
    [
        (list(range(1, 11)), 50, 5),  # ceil(5) = 5th
        (list(range(1, 11)), 90, 9),
        (list(range(1, 11)), 95, 10),  # ceil(9.5) = 10th
        (list(range(1, 11)), 99, 10),
        (list(range(1, 21)), 95, 19),  # 0.95 * 20 is 19.000000000000004 in floats: still 19th
        (list(range(1, 101)), 99, 99),
        ([7.0], 50, 7.0),
        ([3, 1, 2], 50, 2),  # unsorted input
        ([3, 1, 2], 100, 3),
        ([3, 1, 2], 1, 1),
    ],
)
def test_percentiles_are_nearest_rank(samples, p, expected):
    assert percentile(samples, p) == expected


@pytest.mark.parametrize("p", [0, -5, 101])
def test_a_percentile_outside_0_to_100_is_refused(p):
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], p)


def test_a_result_of_thirty_calls_reads_the_15th_27th_29th_and_30th():
    samples = [float(n) for n in range(1, 31)]
    random.Random(20).shuffle(samples)
    result = TimingResult(tuple(samples), "wall", 3, None)
    assert (result.repeat, result.min_ms, result.max_ms) == (30, 1.0, 30.0)
    assert (result.p50_ms, result.p90_ms, result.p95_ms, result.p99_ms) == (15, 27, 29, 30)
    assert result.describe() == "min 1.00  p50 15.0  p90 27.0  p95 29.0  p99 30.0  max 30.0 ms"


def test_limits_are_scaled_by_the_speed_factor():
    result = TimingResult(tuple(float(n) for n in range(1, 31)), "wall", 3,
                          SpeedFactor(2.0, SPEED_FACTOR_ENV))  # fmt: skip
    # p50 15 <= 8 * 2; p90 27 > 10 * 2; p99 30 <= 15 * 2
    (overrun,) = result.overruns({50: 8.0, 90: 10.0, 99: 15.0})
    assert (overrun.percentile, overrun.written_ms, overrun.scaled_ms, overrun.measured_ms) == (
        90, 10.0, 20.0, 27.0,
    )  # fmt: skip
    unscaled = TimingResult(result.samples_ms, "wall", 3, None)  # calibrate=False
    assert [o.percentile for o in unscaled.overruns({50: 8.0, 90: 10.0, 99: 15.0})] == [50, 90, 99]


# -- measuring -----------------------------------------------------------------------------


def test_warmup_calls_run_first_and_are_not_measured():
    fn = Counted(slow_calls=2, slow_s=0.2)  # the two warm-up calls sleep 200 ms each
    result = assert_fast(fn, p50_ms=1000, repeat=7, warmup=2)
    assert fn.calls == 2 + 7
    assert result.repeat == 7 and result.warmup == 2
    assert result.max_ms < 100  # no measured call slept


def test_garbage_is_collected_after_the_warmup_and_the_collector_stays_enabled():
    fn = Counted()
    full_collections, enabled = [], []

    def watch(phase, info):
        if phase == "start" and info["generation"] == 2:
            full_collections.append(fn.calls)

    def fn_and_check():
        fn()
        enabled.append(gc.isenabled())

    gc.callbacks.append(watch)
    try:
        assert_fast(fn_and_check, p50_ms=1000, repeat=5, warmup=3)
    finally:
        gc.callbacks.remove(watch)
    assert 3 in full_collections  # after the 3rd (last warm-up) call, before the first measured
    assert enabled == [True] * 8


def test_the_wall_clock_counts_a_sleep():
    result = assert_fast(lambda: time.sleep(0.02), p50_ms=2000, repeat=5, warmup=1)
    assert result.clock == "wall"
    assert result.min_ms >= 19.9  # sleep never returns early
    assert result.p50_ms < 1000


def test_the_cpu_clock_counts_a_busy_loop_and_not_a_sleep():
    def busy_then_sleep():
        busy_cpu(10)
        time.sleep(0.03)

    cpu = assert_fast(busy_then_sleep, p50_ms=1000, repeat=3, warmup=1, clock="cpu")
    wall = assert_fast(busy_then_sleep, p50_ms=1000, repeat=3, warmup=1, clock="wall")
    assert cpu.min_ms >= 9.9 and cpu.max_ms < 30  # the 10 ms of CPU, none of the 30 ms sleep
    assert wall.min_ms >= 39.9  # both
    sleeping = assert_fast(lambda: time.sleep(0.03), p50_ms=5, repeat=3, warmup=0, clock="cpu")
    assert sleeping.max_ms < 5


def test_the_pinned_factor_scales_the_budget(monkeypatch):
    def ten_ms():
        time.sleep(0.01)

    with pytest.raises(TooSlow):  # at least 10 ms against 6 ms
        assert_fast(ten_ms, p50_ms=6, repeat=3, warmup=0)
    monkeypatch.setenv(SPEED_FACTOR_ENV, "50")  # 6 ms x 50 = 300 ms
    result = assert_fast(ten_ms, p50_ms=6, repeat=3, warmup=0)
    assert result.speed.factor == 50.0
    monkeypatch.setenv(SPEED_FACTOR_ENV, "0.5")
    with pytest.raises(TooSlow, match=r"p50 \d+\.\d+ ms > 50.0 ms \(p50_ms=100 x speed factor"):
        assert_fast(lambda: time.sleep(0.06), p50_ms=100, repeat=3, warmup=0)


def test_calibrate_false_takes_the_budget_as_written_and_ignores_the_env(monkeypatch):
    monkeypatch.setenv(SPEED_FACTOR_ENV, "not a number")  # never read
    result = assert_fast(lambda: None, p50_ms=1000, repeat=3, warmup=0, calibrate=False)
    assert (result.speed, result.factor) == (None, 1.0)
    with pytest.raises(TooSlow, match=r"\(as written, calibrate=False\)"):
        assert_fast(lambda: time.sleep(0.01), p50_ms=5, repeat=3, warmup=0, calibrate=False)


def test_an_invalid_env_factor_stops_before_fn_runs(monkeypatch):
    monkeypatch.setenv(SPEED_FACTOR_ENV, "fast")
    fn = Counted()
    with pytest.raises(PerflabError, match=r"^PERFLAB_SPEED_FACTOR='fast': expected a number"):
        assert_fast(fn, p50_ms=10)
    assert fn.calls == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "assert_fast needs a limit: p50_ms=, p90_ms=, p95_ms= or p99_ms="),
        ({"p50_ms": 0}, "assert_fast: p50_ms=0 is not a time above 0 ms"),
        ({"p99_ms": float("nan")}, "assert_fast: p99_ms=nan is not a time above 0 ms"),
        ({"p50_ms": 5, "clock": "cpu_time"},
         "assert_fast: clock='cpu_time': expected 'wall' or 'cpu'"),
        ({"p50_ms": 5, "repeat": 0}, "assert_fast: repeat=0: expected a whole number ≥ 1"),
        ({"p50_ms": 5, "warmup": -1}, "assert_fast: warmup=-1: expected a whole number ≥ 0"),
    ],
)  # fmt: skip
def test_bad_arguments_are_a_one_line_usage_error(kwargs, message):
    fn = Counted()
    with pytest.raises(PerflabError) as error:
        assert_fast(fn, **kwargs)
    assert str(error.value) == message
    assert error.value.exit_code == ExitCode.USAGE
    assert not isinstance(error.value, AssertionError)  # a mistake, not a slow test
    assert fn.calls == 0


def test_an_async_function_is_refused_rather_than_timed_as_a_coroutine_maker():
    async def view():
        return 1

    with pytest.raises(PerflabError, match="fn returned a coroutine"):
        assert_fast(view, p50_ms=10, warmup=0)


@pytest.mark.parametrize("failing_call", [1, 3, 5])  # a warm-up call, the last one, a measured one
def test_an_exception_from_fn_propagates_as_it_is(failing_call):
    raised = LookupError("no such book")
    fn = Counted()

    def flaky():
        fn()
        if fn.calls == failing_call:
            raise raised

    with pytest.raises(LookupError) as error:
        assert_fast(flaky, p50_ms=1000, repeat=5, warmup=3)
    assert error.value is raised
    assert fn.calls == failing_call


@pytest.mark.django_db
def test_open_captures_see_the_warmup_calls_and_not_the_measured_ones(api_client):
    def request_and_count():
        api_client.get("/api/categories/")  # the reference app runs the probe's middleware too
        Post.objects.count()

    with Capture() as seen:
        assert_fast(request_and_count, p50_ms=1000, repeat=5, warmup=2)
        Post.objects.exists()  # the capture records again after
    assert len(seen.requests) == 2
    assert len(seen.outside.queries) == 2 + 1


# -- the failure message -------------------------------------------------------------------


def test_a_failure_says_what_was_measured_how_and_against_what():
    fn = Counted()

    def two_ms():
        fn()
        time.sleep(0.002)

    with pytest.raises(TooSlow) as error:
        assert_fast(two_ms, p50_ms=0.5, p95_ms=1, repeat=5, warmup=1)
    assert fn.calls == 1 + 5 + 1  # warm-up, measured, and one untimed call to explain
    lines = str(error.value).splitlines()
    assert lines[0].startswith("too slow: p50 ")
    assert "ms > 0.500 ms (p50_ms=0.5 x speed factor 1.00); p95 " in lines[0]
    assert lines[0].endswith("ms > 1.00 ms (p95_ms=1 x speed factor 1.00)")
    assert lines[1] == "  wall clock (time.perf_counter), 5 calls measured after 1 warm-up call"
    assert re.fullmatch(r"  measured: min \S+  p50 \S+  p90 \S+  p95 \S+  p99 \S+  max \S+ ms",
                        lines[2])  # fmt: skip
    assert float(lines[2].split()[2]) >= 2.0  # the minimum: a 2 ms sleep
    assert lines[3] == "  speed factor 1.00 (pinned by PERFLAB_SPEED_FACTOR)"
    assert lines[4:] == [
        "  where the time went (one more call, untimed: the capture slows it):",
        "    What ran: 0 requests, 0 statements, 0.00 ms in the database",
    ]
    assert [o.percentile for o in error.value.overruns] == [50, 95]
    assert error.value.result.repeat == 5


@pytest.mark.django_db
def test_a_failure_says_where_the_requests_time_went(api_client):
    for n in range(3):
        make_posts(make_user(f"writer{n}"), 1)
    with pytest.raises(TooSlow) as error:  # no request takes a microsecond
        assert_fast(lambda: api_client.get("/api/authors/naive/"), p50_ms=0.001, repeat=3)
    where = str(error.value).split("\n  where the time went", 1)[1]
    assert where.startswith(
        " (one more call, untimed: the capture slows it):\n    N+1 queries (3):"
    )
    assert "    What ran: 1 request, 11 statements, " in where
    assert (
        "      GET /api/authors/naive/ → perflab.demo.naive.NaiveAuthorListView: 200, 11 statements"
        in where
    )
    assert "N+1: 3 statements, " in where
    assert "at src/perflab/demo/naive.py:32:get_display_name" in where
    assert "hint: select_related('profile')" in where
    assert "… and 1 more statement" in where  # ten listed, the rest counted
