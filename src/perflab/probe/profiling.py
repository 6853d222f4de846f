"""Which requests get a sampling Python profile (pyinstrument), and taking it.

Rules, any of which selects a request: a percentage, a path pattern, the header
``X-Perflab-Profile: 1`` from a staff user, or "the next N requests of a route that
was slower than T". The header rule profiles first and keeps the profile only if the
user turns out to be staff (with token auth the user is known only after the view).
"""

from __future__ import annotations

import random
import threading

from pyinstrument import Profiler

from perflab.probe.jsonbytes import to_json_bytes
from perflab.probe.sampler import SignalSampler
from perflab.probe.settings import ProbeSettings

PROFILE_HEADER = "HTTP_X_PERFLAB_PROFILE"


class ProfileRules:
    def __init__(self, settings: ProbeSettings) -> None:
        self.settings = settings
        self._armed: dict[str, int] = {}  # route -> requests still to profile
        self._lock = threading.Lock()

    def wants(self, path: str, meta: dict) -> tuple[bool, bool]:
        """(profile this request, only if the user is staff) — decided before the view runs."""
        s = self.settings
        if s.PROFILE_PERCENT and random.random() * 100.0 < s.PROFILE_PERCENT:
            return True, False
        if s.profiled_path(path):
            return True, False
        if s.PROFILE_HEADER and meta.get(PROFILE_HEADER) == "1":
            return True, True
        return False, False

    @property
    def armed(self) -> bool:
        """Some route is armed (``wants_route`` can say yes): checked before the route is
        worked out, on every request."""
        return bool(self._armed)

    def wants_route(self, route: str) -> bool:
        """Armed by an earlier slow request of this route: take one of its N profiles."""
        if not self._armed:
            return False
        with self._lock:
            left = self._armed.get(route, 0)
            if left <= 0:
                return False
            self._armed[route] = left - 1
            return True

    def observe(self, route: str, duration_ms: float) -> None:
        threshold = self.settings.PROFILE_SLOW_MS
        if threshold is not None and duration_ms > threshold:
            with self._lock:
                if self._armed.get(route, 0) <= 0:
                    self._armed[route] = self.settings.PROFILE_SLOW_NEXT


class RequestProfiler:
    """One request's profile, as pyinstrument session JSON.

    ``PROFILER = "sampler"`` (the default) uses perflab's signal sampler for sync
    requests (a few microseconds per sample); async requests, and ``"pyinstrument"``,
    use pyinstrument's profiler, which follows a request across awaits and counts
    wall-clock time, at a higher cost.
    """

    def __init__(self, settings: ProbeSettings, is_async: bool) -> None:
        interval = settings.PROFILE_INTERVAL_S
        if settings.PROFILER == "sampler" and not is_async and SignalSampler.available(interval):
            self.sampler: SignalSampler | None = SignalSampler()
            self.profiler = None
        else:
            self.sampler = None
            mode = "enabled" if is_async else "disabled"
            self.profiler = Profiler(interval=interval, async_mode=mode)
            self.profiler.start()

    def stop(self) -> str:
        """The session as JSON text (``pyinstrument.session.Session.from_json`` reads it)."""
        session = self.sampler.stop() if self.sampler else self.profiler.stop()
        return to_json_bytes(session.to_json()).decode()

    def discard(self) -> None:
        if self.sampler:
            self.sampler.discard()
        elif self.profiler.is_running:
            self.profiler.stop()
