"""Open-model load: task iterations start on a fixed schedule, whatever the server does.

Locust's own model is closed: a user waits for each response before its next task, so a stalled
server also stalls the generator and the stall never shows in the latencies (coordinated
omission). Here arrivals are due at fixed times (uniform spacing, like wrk2); a free user claims
the next unclaimed arrival, sleeps until it is due and then runs one task. When every user is busy
the arrival is started late, by whichever user frees up first, and that lateness is handed to the
first request of the iteration so latency counts from the *intended* start. Arrivals never begun
when the run stops are reported as dropped. Nothing is hidden: ``started``, ``late``, ``dropped``
and ``max_lateness_ms`` say how far the generator fell behind.

How it attaches to Locust: :meth:`OpenModel.wrap` subclasses each user class (same ``__name__``,
which Locust's master and workers use to address classes) with a ``wait_time`` that blocks until
the next arrival and then returns 0, and an ``on_start`` that takes a ticket before the first task.

Limitations:

- An arrival is one task execution at the level where ``wait_time`` resolves to the user's. A
  nested ``TaskSet`` (or ``SequentialTaskSet``) without its own ``wait_time`` takes a ticket per
  inner task; one that overrides ``wait_time`` runs on its own pacing and its inner tasks do not
  wait for arrivals. ``interrupt(reschedule=True)`` starts the parent's next task without a wait,
  so that task has no ticket. The locustfile's own ``wait_time`` (think time) is ignored.
- Lateness is measured when the iteration starts; time the task spends before its first request
  is not added. Requests made from greenlets the task spawns itself get no lateness.
- In distributed mode each worker runs its own share of the schedule from its own ``start()``,
  so shares are offset by however far apart the workers started.

Only :class:`OpenModel` needs gevent and Locust; it imports them when used, so parsing a rate
(the CLI) costs neither.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perflab.errors import PerflabError
from perflab.load.durations import parse_duration

MAX_RATE = 100_000.0  # iterations/s; beyond this a typo is likelier than a plan
_USAGE = "expected RATE or FROM:TO:DURATION in iterations/s, e.g. 50 or 10:200:5m"


def _parse_rate(text: str, whole: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise PerflabError(f"invalid --arrival-rate {whole!r}: {_USAGE}") from None
    if not math.isfinite(rate):
        raise PerflabError(f"invalid --arrival-rate {whole!r}: {text!r} is not a number of /s")
    if rate <= 0:
        raise PerflabError(f"invalid --arrival-rate {whole!r}: rates must be above 0/s")
    if rate > MAX_RATE:
        raise PerflabError(
            f"invalid --arrival-rate {whole!r}: {text}/s is above the {MAX_RATE:.0f}/s limit"
        )
    return rate


@dataclass(frozen=True)
class ArrivalRate:
    """Target iterations/s: ``start`` ramping linearly to ``end`` over ``ramp_s``, then ``end``.

    ``ramp_s == 0`` means a constant ``end`` from time zero (use ``start == end``).
    """

    start: float
    end: float
    ramp_s: float = 0.0

    def __post_init__(self) -> None:
        for rate in (self.start, self.end):
            if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
                raise PerflabError(f"arrival rate {rate}/s is outside (0, {MAX_RATE:.0f}]")
        if not (math.isfinite(self.ramp_s) and self.ramp_s >= 0):
            raise PerflabError(f"arrival ramp duration {self.ramp_s}s must be 0 or more")

    @classmethod
    def parse(cls, text: str) -> ArrivalRate:
        """Read ``--arrival-rate``: "50", "12.5" (constant) or "10:200:5m" (from:to:over)."""
        parts = text.strip().split(":")
        if len(parts) == 1:
            rate = _parse_rate(parts[0].strip(), text)
            return cls(rate, rate)
        if len(parts) != 3:
            raise PerflabError(f"invalid --arrival-rate {text!r}: {_USAGE}")
        start = _parse_rate(parts[0].strip(), text)
        end = _parse_rate(parts[1].strip(), text)
        try:
            ramp_s = parse_duration(parts[2])
        except PerflabError:
            raise PerflabError(
                f"invalid --arrival-rate {text!r}: {parts[2].strip()!r} is not a duration"
                " (e.g. 90, 30s, 5m, 1h)"
            ) from None
        if not (math.isfinite(ramp_s) and ramp_s > 0):
            raise PerflabError(f"invalid --arrival-rate {text!r}: the ramp needs a duration > 0")
        return cls(start, end, ramp_s)

    def __str__(self) -> str:
        if self.ramp_s == 0 or self.start == self.end:
            return f"{self.end:g}/s"
        return f"{self.start:g}/s to {self.end:g}/s over {self.ramp_s:g}s"

    @property
    def ramp_arrivals(self) -> float:
        """Arrivals due during the ramp (the area under it)."""
        return (self.start + self.end) * self.ramp_s / 2

    def rate_at(self, t: float) -> float:
        """Target iterations/s at ``t`` seconds after time zero (``t < 0`` counts as 0)."""
        if t >= self.ramp_s:
            return self.end
        return self.start + (self.end - self.start) * max(t, 0.0) / self.ramp_s

    def arrivals_by(self, t: float) -> float:
        """The integral of the rate over [0, t]: how many arrivals' worth of time has passed."""
        if t <= 0:
            return 0.0
        if t < self.ramp_s:
            return t * (self.start + self.rate_at(t)) / 2
        return self.ramp_arrivals + (t - self.ramp_s) * self.end

    def time_of(self, k: int) -> float:
        """Seconds after time zero at which arrival ``k`` (0-based) is due: arrivals_by⁻¹(k)."""
        if k < 0:
            raise ValueError(f"arrival index {k} is negative")
        if self.ramp_s > 0 and k <= self.ramp_arrivals:
            # Solve start*t + slope*t²/2 = k; this form of the root has no cancellation and
            # also covers a flat "ramp" (slope 0) and a falling one (slope < 0).
            slope = (self.end - self.start) / self.ramp_s
            root = math.sqrt(max(self.start**2 + 2 * slope * k, 0.0))
            return 2 * k / (self.start + root)
        return self.ramp_s + (k - self.ramp_arrivals) / self.end

    def count_by(self, t: float) -> int:
        """How many arrivals are due at or before ``t``, exactly consistent with :meth:`time_of`."""
        if t < 0:
            return 0
        count = math.floor(self.arrivals_by(t)) + 1
        while self.time_of(count) <= t:  # rounding in arrivals_by can be off by one either way
            count += 1
        while count > 0 and self.time_of(count - 1) > t:
            count -= 1
        return count


def parse_arrival_rate(text: str) -> ArrivalRate:
    """Read ``--arrival-rate`` (see :meth:`ArrivalRate.parse`)."""
    return ArrivalRate.parse(text)


class ArrivalSchedule:
    """One process's share of the global schedule: arrivals i, i+n, i+2n, ... of n shares.

    Interleaving (rather than cutting time into blocks) keeps every share's load smooth and its
    rate exactly 1/n of the target at every moment.
    """

    def __init__(self, rate: ArrivalRate, share_index: int = 0, share_count: int = 1) -> None:
        if share_count < 1 or not 0 <= share_index < share_count:
            raise ValueError(f"share {share_index} of {share_count} does not exist")
        self.rate = rate
        self.share_index = share_index
        self.share_count = share_count

    def due(self, k: int) -> float:
        """Seconds after time zero at which this share's ``k``-th (0-based) arrival is due."""
        return self.rate.time_of(self.share_index + k * self.share_count)

    def count_by(self, t: float) -> int:
        """How many of this share's arrivals are due at or before ``t``."""
        total = self.rate.count_by(t)
        if total <= self.share_index:
            return 0
        return -(-(total - self.share_index) // self.share_count)

    def rate_at(self, t: float) -> float:
        """This share's target iterations/s at ``t``."""
        return self.rate.rate_at(t) / self.share_count


class OpenModel:
    """Gates Locust users so that task iterations start at scheduled arrivals.

    Drive it with: ``wrap()`` the user classes, spawn ``max_in_flight`` users, ``start()`` once
    they are spawned (users wait until then), ``take_lateness_ms()`` in the request listener,
    ``stop()`` when the run's time is up, then stop the Locust runner.
    """

    def __init__(
        self,
        rate: ArrivalRate,
        max_in_flight: int,
        late_after_ms: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        share_index: int = 0,
        share_count: int = 1,
    ) -> None:
        from gevent.event import Event

        if max_in_flight < 1:
            raise PerflabError(f"--max-in-flight must be at least 1, not {max_in_flight}")
        if not late_after_ms >= 0:
            raise PerflabError(f"the lateness threshold must be 0 ms or more, not {late_after_ms}")
        self.schedule = ArrivalSchedule(rate, share_index, share_count)
        self.max_in_flight = max_in_flight
        self.late_after_ms = late_after_ms
        self._clock = clock
        self._t0: float | None = None
        self._stopped_at: float | None = None
        self._go = Event()  # set by start() or stop(): users may stop waiting for time zero
        self._halt = Event()  # set by stop(): no more tickets
        self._slot_freed = Event()
        self._next = 0  # next unclaimed arrival of this share
        # Users by id (User classes may define __eq__): those holding a ticket (waiting for it
        # to fall due, or running it), and those running one.
        self._claimed: dict[int, Any] = {}
        self._running: dict[int, Any] = {}
        self._lateness: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._started = 0
        self._late = 0
        self._max_lateness_ms = 0.0
        self._total_lateness_ms = 0.0

    # -- control -------------------------------------------------------------------------------

    @property
    def has_started(self) -> bool:
        return self._t0 is not None

    def start(self, at: float | None = None) -> None:
        """Fix the schedule's time zero (default: now) and let the users take tickets."""
        if self._t0 is not None:
            raise RuntimeError("this open model has already started")
        self._t0 = self._clock() if at is None else at
        self._go.set()

    def stop(self) -> None:
        """Grant no more tickets; users waiting for one end (StopUser), busy ones after their task.

        Arrivals falling due after this moment are not counted as dropped.
        """
        if self._stopped_at is None:
            self._stopped_at = self._clock()
        self._halt.set()
        self._go.set()
        self._slot_freed.set()

    def wrap(self, user_classes: list[type]) -> list[type]:
        """Subclasses of ``user_classes`` (same names) whose tasks start only at arrivals."""
        return [self._wrap(user_class) for user_class in user_classes]

    def _wrap(self, user_class: type) -> type:
        from gevent import GreenletExit
        from locust.exception import StopUser

        model = self

        def wait_time(user: Any) -> float:
            return model._await_ticket(user)

        def on_start(user: Any) -> None:
            user_class.on_start(user)
            try:
                user.wait()  # Locust's own wait (state WAITING, stoppable), i.e. the first ticket
            except StopUser:
                # From on_start, User.run would log StopUser as an error; GreenletExit is its
                # quiet way out (it still calls on_stop).
                raise GreenletExit from None

        def on_stop(user: Any) -> None:
            try:
                user_class.on_stop(user)
            finally:
                model._finish(user)

        namespace = {
            "__module__": user_class.__module__,
            "__qualname__": user_class.__qualname__,
            "__doc__": user_class.__doc__,
            "abstract": getattr(user_class, "abstract", False),
            "wait_time": wait_time,
            "on_start": on_start,
            "on_stop": on_stop,
            "open_model": model,
        }
        return type(user_class)(user_class.__name__, (user_class,), namespace)

    # -- the users' side -----------------------------------------------------------------------

    def _finish(self, user: Any) -> None:
        """The user's iteration (if any) is over: it is no longer in flight and frees its slot."""
        key = id(user)
        if self._claimed.pop(key, None) is not None:
            self._running.pop(key, None)
            self._slot_freed.set()

    def _await_ticket(self, user: Any) -> float:
        """Block until this user's next arrival is due; record how late it starts; return 0."""
        import gevent
        from locust.exception import StopUser

        self._finish(user)
        self._go.wait()
        while len(self._claimed) >= self.max_in_flight and not self._halt.is_set():
            self._slot_freed.clear()  # cooperative: nothing runs between clear() and wait()
            self._slot_freed.wait()
        if self._halt.is_set():
            raise StopUser()
        assert self._t0 is not None
        due = self._t0 + self.schedule.due(self._next)
        self._next += 1
        key = id(user)
        self._claimed[key] = user
        try:
            while (delay := due - self._clock()) > 0:  # loop: gevent timers may fire a bit early
                if self._halt.wait(delay):
                    raise StopUser()
        except BaseException:
            self._finish(user)
            raise
        lateness_ms = max(self._clock() - due, 0.0) * 1000.0
        self._started += 1
        self._total_lateness_ms += lateness_ms
        self._max_lateness_ms = max(self._max_lateness_ms, lateness_ms)
        if lateness_ms > self.late_after_ms:
            self._late += 1
        self._lateness[gevent.getcurrent()] = lateness_ms
        self._running[key] = user
        return 0.0

    def take_lateness_ms(self) -> float:
        """How late the current greenlet's iteration started; given once, then 0 until the next.

        Call it from the request listener (which runs in the user's greenlet): the first request
        of an iteration carries the wait its arrival spent queued, later ones do not.
        """
        import gevent

        return self._lateness.pop(gevent.getcurrent(), 0.0)

    # -- counters ------------------------------------------------------------------------------

    @property
    def started(self) -> int:
        """Arrivals that have started (on time or late)."""
        return self._started

    @property
    def late(self) -> int:
        """Arrivals that started more than ``late_after_ms`` after they were due."""
        return self._late

    @property
    def max_lateness_ms(self) -> float:
        return self._max_lateness_ms

    @property
    def total_lateness_ms(self) -> float:
        """Sum of all start lateness: what the request listener should have added, in total."""
        return self._total_lateness_ms

    @property
    def in_flight(self) -> int:
        """Users running an iteration (between starting an arrival and their next wait)."""
        return len(self._running)

    def due_by(self, now: float | None = None) -> int:
        """Arrivals of this process due by ``now`` (default: the clock), up to ``stop()``."""
        if self._t0 is None:
            return 0
        now = self._clock() if now is None else now
        if self._stopped_at is not None:
            now = min(now, self._stopped_at)
        return self.schedule.count_by(now - self._t0)

    def dropped(self, now: float | None = None) -> int:
        """Arrivals due but not started: the backlog while running, the dropped ones after."""
        return max(self.due_by(now) - self._started, 0)

    def snapshot(self, now: float | None = None) -> dict[str, float | int]:
        """All counters at ``now``, plus this process's current target rate."""
        now = self._clock() if now is None else now
        elapsed = 0.0 if self._t0 is None else now - self._t0
        return {
            "rate": self.schedule.rate_at(elapsed),
            "due": self.due_by(now),
            "started": self._started,
            "late": self._late,
            "dropped": self.dropped(now),
            "in_flight": self.in_flight,
            "max_lateness_ms": self._max_lateness_ms,
            "total_lateness_ms": self._total_lateness_ms,
        }
