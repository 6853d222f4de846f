"""A recorder an app would write itself, listed in ``PERFLAB["RECORDERS"]`` by dotted path:
calls to an outbound service (``fetch``, standing in for an HTTP client), timed as spans and
reported in Server-Timing."""

from __future__ import annotations

import functools
import sys
import time

from perflab.probe.context import ActiveRequest, current_request
from perflab.probe.recorders.base import Recorder, ServerTiming
from perflab.probe.records import SpanEvent
from perflab.probe.settings import ProbeSettings


def fetch(url: str) -> str:
    time.sleep(0.002)
    return f"answer of {url}"


class OutboundRecorder(Recorder):
    name = "outbound"

    def install(self, settings: ProbeSettings) -> None:
        module = sys.modules[__name__]
        original = module.fetch
        if getattr(original, "_recorded", False):
            return

        @functools.wraps(original)
        def recorded(url: str) -> str:
            active = current_request.get()
            if active is None:
                return original(url)
            start = time.perf_counter()
            try:
                return original(url)
            finally:
                duration_ms = (time.perf_counter() - start) * 1000.0
                active.spans.append(
                    SpanEvent(f"outbound {url}", active.offset_ms(start), duration_ms)
                )

        recorded._recorded = True
        module.fetch = recorded

    def server_timing(self, active: ActiveRequest) -> list[ServerTiming]:
        calls = [s for s in active.spans if s.name.startswith("outbound ")]
        return [("outbound", sum(s.duration_ms for s in calls), f"{len(calls)} calls")]


class NotARecorder:
    pass


class BrokenRecorder(Recorder):
    def install(self, settings: ProbeSettings) -> None:
        raise RuntimeError("no outbound client configured")
