"""Django cache calls: operation, hits and misses, time, per cache alias.

Each cache backend instance gets instrumented methods when Django creates it (the
handler creates one per thread), so the app's code is untouched.
"""

from __future__ import annotations

import functools
import time

from django.core.cache import CacheHandler, caches

from perflab.probe.callsite import CallsiteFinder, shown_location
from perflab.probe.context import current_request
from perflab.probe.recorders.base import Recorder
from perflab.probe.records import CacheEvent
from perflab.probe.settings import ProbeSettings

OPERATIONS = ("get", "set", "add", "delete", "get_many", "set_many", "delete_many",
              "get_or_set", "has_key", "incr", "decr", "touch", "clear")  # fmt: skip
_MISSING = object()


def _hits_and_misses(operation: str, args: tuple, kwargs: dict, result) -> tuple[int, int, int]:
    """(hits, misses, keys) for a call's result."""
    if operation == "get":
        default = args[1] if len(args) > 1 else kwargs.get("default")
        return (0, 1, 1) if result is default else (1, 0, 1)
    if operation == "get_many":
        wanted = len(args[0]) if args else len(kwargs.get("keys", ()))
        return len(result), wanted - len(result), wanted
    if operation == "has_key":
        return (1, 0, 1) if result else (0, 1, 1)
    if operation in ("set_many", "delete_many"):
        return 0, 0, len(args[0]) if args else 0
    return 0, 0, 1


class CacheRecorder(Recorder):
    name = "cache"

    def __init__(self) -> None:
        self.callsites: CallsiteFinder | None = None

    def install(self, settings: ProbeSettings) -> None:
        self.callsites = CallsiteFinder(settings.CALLSITE_EXCLUDE)
        original = CacheHandler.create_connection
        if getattr(original, "_perflab", False):
            return

        @functools.wraps(original)
        def create_connection(handler, alias):
            return self.instrument(original(handler, alias), alias)

        create_connection._perflab = True
        CacheHandler.create_connection = create_connection
        for backend in caches.all(initialized_only=True):
            self.instrument(backend, getattr(backend, "_perflab_alias", "default"))

    def instrument(self, backend, alias: str):
        if getattr(backend, "_perflab_alias", None):
            return backend
        backend._perflab_alias = alias
        for operation in OPERATIONS:
            method = getattr(backend, operation, None)
            if method is not None:
                setattr(backend, operation, self._wrap(method, operation, alias))
        return backend

    def _wrap(self, method, operation: str, alias: str):
        recorder = self

        @functools.wraps(method)
        def recorded(*args, **kwargs):
            active = current_request.get()
            if active is None or active.cache_depth:
                return method(*args, **kwargs)  # not recorded, or called by another cache method
            active.cache_depth += 1
            start = time.perf_counter()
            try:
                result = method(*args, **kwargs)
            finally:
                active.cache_depth -= 1
            duration = (time.perf_counter() - start) * 1000.0
            hits, misses, keys = _hits_and_misses(operation, args, kwargs, result)
            offset = (start - active.t0) * 1000.0
            found = recorder.callsites.find(1, None, active.rendering > 0)
            active.cache.append(CacheEvent(
                operation, alias, duration, hits, misses, keys, offset, shown_location(found)
            ))  # fmt: skip
            return result

        return recorded
