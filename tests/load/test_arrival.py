"""The open model: schedule math, --arrival-rate parsing, and real Locust users paced by it."""

import heapq
import itertools
import statistics
import time

import gevent
import pytest
from gevent.pool import Group
from locust import User, constant, task
from locust.env import Environment

from perflab.errors import PerflabError
from perflab.load.arrival import (
    ArrivalRate,
    ArrivalSchedule,
    OpenModel,
    parse_arrival_rate,
)

# Real users paced by the model, checked against the wall clock to the millisecond: these run
# alone (the serial part of `make test`), never beside other tests competing for the 2 cores.
ON_TIME = pytest.mark.serial

CONSTANT = ArrivalRate(50, 50)
RAMP_UP = ArrivalRate(10, 200, 300)
RAMP_DOWN = ArrivalRate(200, 10, 60)

# -- schedule math ---------------------------------------------------------------------------


def test_constant_rate_spaces_arrivals_evenly_from_time_zero():
    assert [CONSTANT.time_of(k) for k in range(4)] == pytest.approx([0, 0.02, 0.04, 0.06])
    assert CONSTANT.time_of(50_000) == pytest.approx(1000)
    assert CONSTANT.rate_at(0) == CONSTANT.rate_at(1e6) == 50
    assert CONSTANT.arrivals_by(10) == pytest.approx(500)
    assert CONSTANT.count_by(-0.001) == 0
    assert CONSTANT.count_by(0) == 1  # arrival 0 is due at time zero
    assert CONSTANT.count_by(0.999) == 50
    assert CONSTANT.count_by(1.0) == 51


def test_ramp_up_is_linear_then_holds_at_the_end_rate():
    assert [RAMP_UP.rate_at(t) for t in (0, 150, 300, 301, 1e6)] == [10, 105, 200, 200, 200]
    assert RAMP_UP.arrivals_by(300) == pytest.approx((10 + 200) / 2 * 300)  # 31 500
    assert RAMP_UP.arrivals_by(310) == pytest.approx(31_500 + 2000)
    assert RAMP_UP.time_of(31_500) == pytest.approx(300)
    assert RAMP_UP.time_of(31_700) == pytest.approx(301)
    # gaps shrink as the rate climbs: 1/10 s at the start, 1/200 s at the end
    assert RAMP_UP.time_of(1) - RAMP_UP.time_of(0) == pytest.approx(0.1, rel=0.01)
    assert RAMP_UP.time_of(31_501) - RAMP_UP.time_of(31_500) == pytest.approx(1 / 200)


def test_ramp_down_is_linear_then_holds_at_the_end_rate():
    assert [RAMP_DOWN.rate_at(t) for t in (0, 30, 60, 1e6)] == [200, 105, 10, 10]
    assert RAMP_DOWN.arrivals_by(60) == pytest.approx(6300)
    assert RAMP_DOWN.time_of(6300) == pytest.approx(60)
    assert RAMP_DOWN.time_of(1) == pytest.approx(1 / 200, rel=0.01)
    assert RAMP_DOWN.time_of(6301) - RAMP_DOWN.time_of(6300) == pytest.approx(1 / 10)


@pytest.mark.parametrize("rate", [CONSTANT, RAMP_UP, RAMP_DOWN, ArrivalRate(7, 7, 30)])
def test_arrivals_by_is_the_integral_of_rate_at(rate):
    """Midpoint sums of rate_at agree with the closed form, across and after the ramp."""
    steps, end = 20_000, rate.ramp_s * 1.5 + 10
    dt = end / steps
    total = 0.0
    for i in range(steps):
        total += rate.rate_at((i + 0.5) * dt) * dt
        if i % 1000 == 999:
            assert rate.arrivals_by((i + 1) * dt) == pytest.approx(total, rel=1e-6)


@pytest.mark.parametrize("rate", [CONSTANT, RAMP_UP, RAMP_DOWN, ArrivalRate(7, 7, 30)])
def test_time_of_is_the_exact_inverse_over_thousands_of_arrivals(rate):
    last_k = int(rate.ramp_arrivals) + 3000  # the whole ramp (if any) and beyond
    ks = range(0, last_k, max(last_k // 5000, 1))
    times = [rate.time_of(k) for k in ks]
    assert all(a < b for a, b in itertools.pairwise(times))
    for k, t in zip(ks, times, strict=True):
        assert rate.arrivals_by(t) == pytest.approx(k, abs=1e-6 * max(k, 1))
        assert rate.count_by(t) == k + 1  # arrival k is due exactly at its time...
        assert rate.count_by(t - 1e-9) == k  # ...and not a moment before


@pytest.mark.parametrize("rate", [CONSTANT, RAMP_UP, RAMP_DOWN])
@pytest.mark.parametrize("shares", [2, 3, 7])
def test_shares_interleave_into_exactly_the_single_process_schedule(rate, shares):
    whole = [rate.time_of(k) for k in range(3000)]
    union: list[float] = []
    for index in range(shares):
        share = ArrivalSchedule(rate, index, shares)
        union += [share.due(k) for k in range(-(-(3000 - index) // shares))]
        assert share.rate_at(12.5) == pytest.approx(rate.rate_at(12.5) / shares)
    assert sorted(union) == whole
    for t in (0, 0.01, 1.234, 15.9, whole[-1]):
        counts = [ArrivalSchedule(rate, i, shares).count_by(t) for i in range(shares)]
        assert sum(counts) == rate.count_by(t)
        assert max(counts) - min(counts) <= 1  # every share carries its part all along


def test_a_share_that_does_not_exist_is_refused():
    with pytest.raises(ValueError):
        ArrivalSchedule(CONSTANT, 3, 3)


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50", ArrivalRate(50, 50)),
        (" 12.5 ", ArrivalRate(12.5, 12.5)),
        ("10:200:5m", ArrivalRate(10, 200, 300)),
        ("200:10:90", ArrivalRate(200, 10, 90)),
        ("1:2:30s", ArrivalRate(1, 2, 30)),
        ("1:2:1h30m", ArrivalRate(1, 2, 5400)),
        ("0.5:100000:2.5m", ArrivalRate(0.5, 100_000, 150)),
    ],
)
def test_arrival_rates_parse(text, expected):
    assert ArrivalRate.parse(text) == expected
    assert parse_arrival_rate(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "fast", "0", "-5", "100001", "1e9", "nan", "inf", "10:20", "10:20:5m:1",
     "10:0:5m", "x:20:5m", "10:20:0", "10:20:0s", "10:20:5x", "10:20:-5s", "10:20:"],
)  # fmt: skip
def test_bad_arrival_rates_are_one_line_usage_errors(text):
    with pytest.raises(PerflabError) as caught:
        ArrivalRate.parse(text)
    message = str(caught.value)
    assert "\n" not in message
    assert f"--arrival-rate {text!r}" in message


def test_rates_built_in_code_are_checked_too():
    with pytest.raises(PerflabError):
        ArrivalRate(0, 10, 5)
    with pytest.raises(PerflabError):
        ArrivalRate(10, 10, -1)


# -- the model's counters, on a clock the test controls --------------------------------------


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_counters_follow_the_schedule_and_freeze_at_stop():
    clock = FakeClock(1000.0)
    model = OpenModel(ArrivalRate(50, 50), max_in_flight=4, clock=clock, share_index=1,
                      share_count=2)  # fmt: skip
    assert model.due_by(2000.0) == 0  # nothing is due before start()
    model.start()
    # global arrivals 0..50 fall due in the first second; this share has 1, 3, ..., 49
    assert model.due_by(1001.0) == 25
    assert model.dropped(1001.0) == 25
    assert model.snapshot(1001.0) == {
        "rate": 25.0, "due": 25, "started": 0, "late": 0, "dropped": 25, "in_flight": 0,
        "max_lateness_ms": 0.0, "total_lateness_ms": 0.0,
    }  # fmt: skip
    clock.now = 1002.0
    model.stop()
    assert model.due_by(5000.0) == 50  # arrivals due after stop() are not dropped
    with pytest.raises(RuntimeError):
        model.start()


def test_bad_caps_are_usage_errors():
    with pytest.raises(PerflabError, match="max-in-flight"):
        OpenModel(CONSTANT, max_in_flight=0)


def test_a_greenlet_with_nothing_stored_gets_no_lateness():
    model = OpenModel(CONSTANT, max_in_flight=1)
    assert model.take_lateness_ms() == 0.0
    assert gevent.spawn(model.take_lateness_ms).get(timeout=1) == 0.0


# -- real Locust users, paced by the model ---------------------------------------------------


class Run:
    """Wrapped users of one class, started as Locust starts them, plus what they did."""

    def __init__(self, model: OpenModel, service_s: float, users: int) -> None:
        self.starts: list[float] = []  # monotonic time at which each task began
        self.requests: list[tuple[str, float]] = []  # (name, lateness the listener was given)
        self.in_flight_seen: list[int] = []
        self.on_starts = 0
        run = self

        class Shopper(User):
            wait_time = constant(5)  # think time: the open model must ignore it
            weight = 3

            def on_start(self):
                run.on_starts += 1

            @task
            def buy(self):
                run.starts.append(time.monotonic())
                run.in_flight_seen.append(model.in_flight)
                self.environment.events.request.fire(
                    request_type="GET", name="first", response_time=0, response_length=0,
                    exception=None, context={},
                )  # fmt: skip
                gevent.sleep(service_s)  # the server's service time
                self.environment.events.request.fire(
                    request_type="GET", name="second", response_time=0, response_length=0,
                    exception=None, context={},
                )  # fmt: skip

        self.original = Shopper
        (self.user_class,) = model.wrap([Shopper])
        self.environment = Environment(user_classes=[self.user_class])
        self.environment.events.request.add_listener(
            lambda name, **_: self.requests.append((name, model.take_lateness_ms()))
        )
        self.group = Group()
        for _ in range(users):
            self.user_class(self.environment).start(self.group)

    def first_lateness(self) -> list[float]:
        return [lateness for name, lateness in self.requests if name == "first"]


def test_wrapped_classes_keep_their_identity_for_locust():
    model = OpenModel(CONSTANT, max_in_flight=1)
    run = Run(model, service_s=0, users=0)
    wrapped, original = run.user_class, run.original
    assert issubclass(wrapped, original)
    assert wrapped.__name__ == original.__name__
    assert wrapped.fullname() == original.fullname()
    assert wrapped.weight == 3
    assert not wrapped.abstract
    assert [t.__name__ for t in wrapped.tasks] == ["buy"]
    assert original.wait_time(None) == 5  # the locustfile's class is left alone


@ON_TIME
def test_fast_server_tasks_start_on_schedule():
    model = OpenModel(ArrivalRate(100, 100), max_in_flight=4, late_after_ms=50)
    run = Run(model, service_s=0.001, users=4)
    gevent.sleep(0.1)
    assert run.on_starts == 4
    assert run.starts == []  # on_start ran, but even the first task waits for an arrival
    model.start()
    t0 = time.monotonic()
    gevent.sleep(1.0)
    model.stop()
    assert run.group.join(timeout=0.5)

    starts = sorted(run.starts)
    offsets = [start - (t0 + model.schedule.due(k)) for k, start in enumerate(starts)]
    assert len(starts) == model.started == model.due_by() >= 100
    assert min(offsets) >= -0.001  # never early (t0 is read just after start())
    assert statistics.median(offsets) < 0.003
    assert max(offsets) < 0.025
    assert model.late == 0
    assert model.dropped() == 0
    assert model.in_flight == 0
    assert all(lateness == 0 for name, lateness in run.requests if name == "second")
    assert sum(run.first_lateness()) == pytest.approx(model.total_lateness_ms)


def expected_lateness(rate: ArrivalRate, users: int, service_s: float, until: float):
    """Reference: arrival k goes to the first user free; it starts at max(due, free)."""
    free = [0.0] * users
    lateness = []
    for k in range(rate.count_by(until)):
        due = rate.time_of(k)
        start = max(due, heapq.heappop(free))
        if start > until:
            break
        lateness.append((start - due) * 1000)
        heapq.heappush(free, start + service_s)
    return lateness


@ON_TIME
def test_a_stalled_server_makes_starts_late_and_the_lateness_is_handed_over():
    """100/s against a server needing 0.3 s per task, with only 3 in flight: a backlog builds."""
    rate = ArrivalRate(100, 100)
    model = OpenModel(rate, max_in_flight=3)
    run = Run(model, service_s=0.3, users=3)
    model.start()
    t0 = time.monotonic()
    gevent.sleep(1.0)
    stop_at = time.monotonic() - t0
    model.stop()

    expected = expected_lateness(rate, users=3, service_s=0.3, until=stop_at)
    assert len(expected) == 12  # 4 rounds of 3, at 0, 0.3, 0.6 and 0.9 s
    assert model.started == len(expected)
    assert model.late == sum(1 for ms in expected if ms > 10) == 9
    measured = run.first_lateness()
    assert sorted(measured) == pytest.approx(sorted(expected), abs=25)
    assert model.max_lateness_ms == pytest.approx(max(expected), abs=25)  # ~870 ms behind
    # the listener was given each start's lateness once, on the first request only
    assert sum(measured) == pytest.approx(model.total_lateness_ms)
    assert sum(measured) == pytest.approx(sum(expected), rel=0.05)
    assert all(lateness == 0 for name, lateness in run.requests if name == "second")
    # what could not start before stop() is dropped, not hidden
    assert model.due_by() == rate.count_by(stop_at) >= 100
    assert model.dropped() == model.due_by() - model.started >= 88

    assert run.group.join(timeout=0.5)  # busy users finish their task, then take no ticket
    assert len(run.starts) == model.started
    assert len(run.requests) == 2 * model.started  # the 3 busy at stop() completed their task
    assert model.in_flight == 0


@ON_TIME
def test_stop_releases_waiting_users_at_once():
    model = OpenModel(ArrivalRate(1, 1), max_in_flight=5)  # the next arrival is a second away
    run = Run(model, service_s=0, users=5)
    model.start()
    gevent.sleep(0.05)
    assert len(run.starts) == 1
    began = time.monotonic()
    model.stop()
    assert run.group.join(timeout=0.2)
    assert time.monotonic() - began < 0.1
    assert model.started == 1
    assert model.dropped() == 0


@ON_TIME
def test_stop_releases_users_that_were_never_started():
    model = OpenModel(CONSTANT, max_in_flight=2)
    run = Run(model, service_s=0, users=2)
    gevent.sleep(0.05)
    model.stop()
    assert run.group.join(timeout=0.2)
    assert run.starts == []
    assert model.due_by() == 0


@ON_TIME
def test_no_more_than_max_in_flight_run_even_with_more_users():
    model = OpenModel(ArrivalRate(200, 200), max_in_flight=2)
    run = Run(model, service_s=0.05, users=6)
    model.start()
    gevent.sleep(0.5)
    assert model.in_flight == 2
    model.stop()
    assert run.group.join(timeout=0.5)
    assert max(run.in_flight_seen) == 2  # the task itself is counted
    assert 16 <= model.started <= 24  # two at a time, 0.05 s each, for 0.5 s
    assert model.dropped() == model.due_by() - model.started > 70
