"""``Probe``: this process's probe — settings, recorders, profile rules, writer, store."""

from __future__ import annotations

import threading

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from perflab.probe.profiling import ProfileRules
from perflab.probe.recorders.base import Recorder
from perflab.probe.sampler import SignalSampler
from perflab.probe.settings import ProbeSettings, load_settings
from perflab.probe.store import RecordingStore
from perflab.probe.writer import BackgroundWriter

_lock = threading.Lock()
_probe: Probe | None = None
_recorders: dict[type[Recorder], Recorder] = {}  # one per class and process (Recorder)


class Probe:
    def __init__(self, settings: ProbeSettings) -> None:
        self.settings = settings
        self.recorders = [_recorder(kind) for kind in recorder_classes(settings.RECORDERS)]
        # The recorders with something to do after each response (none of the built-in
        # ones), with Server-Timing entries (SQL) and with something to derive in the writer
        # thread (SQL): the request path calls only those.
        self.finishing = self._overriding("finish")
        self.timing = self._overriding("server_timing")
        self.completing = self._overriding("complete")
        self.rules = ProfileRules(settings)
        self.store = RecordingStore.from_settings(settings.STORE)
        self.writer = BackgroundWriter(self.store, settings, complete=self.complete)
        self.internal_errors = 0  # probe bugs caught so the request still succeeded

    def _overriding(self, hook: str) -> list[Recorder]:
        return [r for r in self.recorders if getattr(type(r), hook) is not getattr(Recorder, hook)]

    def complete(self, record) -> None:
        """Derive what the request path left raw (runs in the writer thread)."""
        for recorder in self.completing:
            recorder.complete(record, self.settings)

    def install(self) -> Probe:
        for recorder in self.recorders:
            try:
                recorder.install(self.settings)
            except Exception as exc:  # an app's recorder: one line at startup, the cause kept
                kind = type(recorder)
                raise ImproperlyConfigured(
                    f"PERFLAB['RECORDERS']: {kind.__module__}.{kind.__qualname__} could not "
                    f"install: {type(exc).__name__}: {exc}"
                ) from exc
        if self.settings.PROFILER == "sampler":
            # The signal handler can only be set from the main thread: do it at startup.
            SignalSampler.available(self.settings.PROFILE_INTERVAL_S)
        return self


def recorder_classes(paths: tuple[str, ...]) -> tuple[type[Recorder], ...]:
    """The classes ``PERFLAB["RECORDERS"]`` names, imported as Django imports MIDDLEWARE's
    dotted paths: at startup, and by the system check, with a one-line error for each."""
    classes = []
    for path in paths:
        try:
            found = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"PERFLAB['RECORDERS'] cannot import {path!r}: {exc}"
            ) from None
        if not (isinstance(found, type) and issubclass(found, Recorder)):
            raise ImproperlyConfigured(
                f"PERFLAB['RECORDERS'] lists {path!r}, which is not a perflab Recorder subclass"
            )
        classes.append(found)
    return tuple(classes)


def _recorder(kind: type[Recorder]) -> Recorder:
    if kind not in _recorders:
        _recorders[kind] = kind()
    return _recorders[kind]


def get_probe() -> Probe:
    """The process's probe, created and installed on first use (normally at app startup)."""
    global _probe
    if _probe is None:
        with _lock:
            if _probe is None:
                _probe = Probe(load_settings()).install()
    return _probe


def forget_probe() -> None:
    """Close the probe; the next ``get_probe`` builds one from the settings of that moment
    (tests that override ``PERFLAB`` use this)."""
    global _probe
    with _lock:
        if _probe is not None:
            _probe.writer.close()
        _probe = None
