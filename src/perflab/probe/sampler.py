"""A signal-driven sampling profiler whose output is a pyinstrument ``Session``.

pyinstrument's profiler hooks every Python call and return; on a 2 ms API request
that added about half the request's CPU cost (measured: +1.1 ms per request, whatever
the interval). A wall-clock timer signal (ITIMER_REAL, SIGALRM) instead interrupts the
process every ``interval`` while a request is profiled and reads the sampled thread's
stack: a few microseconds per sample. Samples are stored in pyinstrument's own format,
so its renderers (text, HTML, speedscope) read them unchanged.

Limits: the handler can only be installed from the main thread, and only when nobody
else uses SIGALRM; ``SignalSampler.available()`` is False otherwise and the probe falls
back to pyinstrument's profiler. Time blocked inside C code (a database round trip) is
attributed when the interrupted Python frame resumes, as pyinstrument does.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from pyinstrument.session import Session
from pyinstrument.stack_sampler import get_frame_info

_active: dict[int, SignalSampler] = {}  # thread id -> the sampler of its request
_lock = threading.Lock()
_interval = 0.001


def _install(interval: float) -> bool:
    """True when SIGALRM and the real-time timer are ours to use now."""
    global _interval
    handler = signal.getsignal(signal.SIGALRM)
    if handler is not _on_signal:
        if handler not in (signal.SIG_DFL, signal.SIG_IGN, None):
            return False  # the app (or a test runner) uses SIGALRM: leave it alone
        if threading.current_thread() is not threading.main_thread():
            return False
        signal.signal(signal.SIGALRM, _on_signal)
        _interval = interval
    with _lock:
        # Someone else's alarm is pending: arming ours would cancel it.
        return bool(_active) or signal.getitimer(signal.ITIMER_REAL)[0] == 0


def _on_signal(signum, frame) -> None:
    try:
        now = time.perf_counter()
        main = threading.main_thread().ident
        others = None
        for ident, sampler in list(_active.items()):
            if ident == main:
                sampler.sample(frame, now)
            else:
                if others is None:
                    others = sys._current_frames()
                sampler.sample(others.get(ident), now)
    except Exception:  # a sample is not worth breaking the interrupted code
        pass


class SignalSampler:
    """Samples the calling thread from ``start`` until ``stop``."""

    @staticmethod
    def available(interval: float) -> bool:
        return _install(interval)

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.thread_name = threading.current_thread().name
        self.records: list[tuple[list[str], float]] = []
        self.start_wall = time.time()
        self.start = self.last = time.perf_counter()
        self.cpu_start = time.thread_time()
        # Where profiling began, as pyinstrument records it: its renderers trim this stem.
        self.start_call_stack = self._stack(sys._getframe(1))
        with _lock:
            _active[self.thread] = self
            if len(_active) == 1:
                signal.setitimer(signal.ITIMER_REAL, _interval, _interval)

    def _stack(self, frame) -> list[str]:
        stack = []
        while frame is not None:
            stack.append(get_frame_info(frame))
            frame = frame.f_back
        stack.append(f"{self.thread_name}\x00<thread>\x00{self.thread}")
        stack.reverse()
        return stack

    def sample(self, frame, now: float) -> None:
        self.records.append((self._stack(frame), now - self.last))
        self.last = now

    def stop(self) -> Session:
        with _lock:
            _active.pop(self.thread, None)
            if not _active:
                signal.setitimer(signal.ITIMER_REAL, 0, 0)
        end = time.perf_counter()
        return Session(
            frame_records=self.records,
            start_time=self.start_wall,
            duration=end - self.start,
            min_interval=_interval,
            max_interval=_interval,
            sample_count=len(self.records),
            start_call_stack=self.start_call_stack,
            target_description="perflab sampler",
            cpu_time=time.thread_time() - self.cpu_start,
            sys_path=sys.path,
            sys_prefixes=Session.current_sys_prefixes(),
        )

    def discard(self) -> None:
        self.stop()
