"""``ProbeMiddleware``: records each request (put it first in ``MIDDLEWARE``).

It never fails or blocks a request: every probe step is guarded, the record is
handed to a bounded queue, and a request id is always echoed in ``X-Request-ID``.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import re
import time
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from perflab.probe.callsite import mark_boundary
from perflab.probe.context import ActiveRequest, current_request
from perflab.probe.masking import mask_body, mask_headers, mask_path, mask_query_string
from perflab.probe.probe import get_probe
from perflab.probe.process import current_pid
from perflab.probe.profiling import RequestProfiler
from perflab.probe.recorders.base import Recorder, ServerTiming
from perflab.probe.routes import (
    ROUTE_HEADER,
    UNMATCHED,
    NamedRoute,
    named_route_of,
    served_name,
)

logger = logging.getLogger("perflab.probe")
slow_logger = logging.getLogger("perflab.slow")

REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


_ID_PREFIX = f"{uuid.uuid4().hex[:20]}"  # per process (re-drawn after a fork, below)
_id_counter = itertools.count(1)


def _new_ids_after_fork() -> None:
    global _ID_PREFIX, _id_counter
    _ID_PREFIX, _id_counter = uuid.uuid4().hex[:20], itertools.count(1)


os.register_at_fork(after_in_child=_new_ids_after_fork)


def request_id_for(meta: dict) -> str:
    """The client's X-Request-ID when it is a sane token, a new one otherwise.

    New ids are a random per-process prefix and a counter (32 hex digits, unique
    across processes and restarts), cheaper than a uuid4 per request.
    """
    incoming = meta.get(REQUEST_ID_HEADER)
    if incoming and _VALID_REQUEST_ID.match(incoming):
        return incoming
    return f"{_ID_PREFIX}{next(_id_counter):012x}"


def route_of(request) -> tuple[str, str]:
    """(route name, view): ``api/posts/<pk>/`` whether path() or a regex router, the URL name
    for a regex or catch-all (``wagtail_serve``) — the name /perf/api/urlpatterns/ publishes
    (perflab.probe.routes). What a split route served is added in ``ProbeMiddleware._end``."""
    named = named_route_of(request)
    return named.name, named.view


class ProbeMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self._prepare_store()

    def _prepare_store(self) -> None:
        """Create the store's tables when the app starts serving, not at its first recorded
        request: ``perflab run --store PATH`` can then tell a wrong path from a store that
        has seen no request yet. Never fails the app (``manage.py check`` says why a store
        cannot be written); the connection is closed, so no process forked after this
        (gunicorn ``--preload``) inherits it."""
        try:
            probe = self.probe
            if not probe.settings.ENABLED:
                return
            store = probe.store
            store.ensure_schema()
            store.database.close()
        except Exception as exc:
            logger.warning("perflab: the probe's store is not ready: %s", exc)

    @property
    def probe(self):
        return get_probe()  # looked up each time: tests and reloads may replace it

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        active = self._begin(request)
        if active is None:
            return self._unrecorded(self.get_response(request), request)
        token = current_request.set(active)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        return self._end(request, response, active)

    def process_view(self, request, view_func, view_args, view_kwargs) -> None:
        """Once the route is known: profile it if an earlier slow request armed it."""
        active = current_request.get()
        if active is None:
            return
        try:
            mark_boundary(view_func)  # call-site walks stop here (perflab.probe.callsite)
            if view_kwargs:
                active.path = mask_path(active.path, view_kwargs, active.settings.SENSITIVE_NAMES)
        except Exception:
            self._internal_error("marking the view")
        if active.profiler is not None:
            return
        try:
            rules = self.probe.rules
            if rules.armed and rules.wants_route(route_of(request)[0]):
                active.profiler = RequestProfiler(active.settings, self.is_async)
        except Exception:
            self._internal_error("starting a profile")

    async def __acall__(self, request):
        active = self._begin(request)
        if active is None:
            return self._unrecorded(await self.get_response(request), request)
        token = current_request.set(active)
        try:
            response = await self.get_response(request)
        finally:
            current_request.reset(token)
        return self._end(request, response, active)

    # -- the guarded steps ----------------------------------------------------------------

    def _begin(self, request) -> ActiveRequest | None:
        """The request's ``ActiveRequest``, or None when this request is not recorded."""
        try:
            meta = request.META
            request_id = request.perflab_request_id = request_id_for(meta)
            probe = self.probe
            settings = probe.settings
            path = request.path
            if not settings.ENABLED or settings.ignored_path(path):
                return None
            if settings.SAMPLE_PERCENT < 100 and random.random() * 100 >= settings.SAMPLE_PERCENT:
                return None
            if settings.INTERCEPT is not None and not settings.INTERCEPT(request):
                return None
            names = settings.SENSITIVE_NAMES
            query_string = meta.get("QUERY_STRING")
            active = ActiveRequest(
                settings, request_id, request.method, path, current_pid(),
                mask_query_string(query_string, names) if query_string else "",
                mask_headers(meta, names),
            )  # fmt: skip
            if settings.CAPTURE_BODY and request.method in ("POST", "PUT", "PATCH"):
                active.body = mask_body(
                    request.body, request.content_type or "", names, settings.MAX_BODY_BYTES
                )
            wanted, active.profile_staff_only = probe.rules.wants(path, meta)
            if wanted:
                active.profiler = RequestProfiler(settings, self.is_async)
            return active
        except Exception:
            self._internal_error("starting a record")
            return None

    def _end(self, request, response, active: ActiveRequest):
        try:
            active.duration_ms = duration_ms = active.offset_ms(time.perf_counter())
            active.cpu_ms = (time.thread_time() - active.cpu0) * 1000.0
            probe = self.probe
            named = named_route_of(request)
            route = named.name
            profile = None
            if active.profiler is not None:
                if active.profile_staff_only and not _is_staff(request):
                    active.profiler.discard()
                else:
                    profile = active.profiler.stop()
            active.profile = profile
            active.view = named.view
            active.status = response.status_code
            active.response_bytes = _response_size(response)
            active.user_id = _user_id(request)
            for recorder in probe.finishing:
                recorder.finish(active)
            probe.rules.observe(route, duration_ms)  # profile rules go by the published name
            if _split(named, active.settings):
                route = self._served_route(named, request, response, active.settings)
            active.route = route
            self._annotate(response, active, probe.timing)
            probe.writer.submit(active.frozen())
            outer = current_request.get()
            if outer is not None:  # a test's capture around this request (perflab.budgets)
                outer.absorb(active)
        except Exception:
            self._internal_error("finishing a record")
        return self._tag(response, request)

    def _annotate(self, response, active: ActiveRequest, timing: list[Recorder]) -> None:
        """Server-Timing and the slow log, from the recorders' ``server_timing`` entries."""
        settings = active.settings
        slow = active.duration_ms >= settings.SLOW_REQUEST_MS
        if not (settings.SERVER_TIMING or slow):
            return
        entries: list[ServerTiming] = []
        try:  # a recorder's bad entry costs the header, not the record
            for recorder in timing:
                entries += recorder.server_timing(active)
            if settings.SERVER_TIMING:
                _set_header(response, _SERVER_TIMING, _server_timing(entries, active.duration_ms))
            if slow:
                slow_logger.warning(
                    "slow request: %s %s (%s) %.0f ms%s, request id %s",
                    active.method, active.path, active.route or "unmatched", active.duration_ms,
                    "".join(f", {name} {ms:.0f} ms ({desc or name})" for name, ms, desc in entries),
                    active.request_id,
                )  # fmt: skip
        except Exception:
            self._internal_error("timing the request (Recorder.server_timing)")

    def _served_route(self, named: NamedRoute, request, response, settings) -> str:
        """A split route's name for what this response served, told to the client in
        ``X-Perflab-Route`` (the runner counts the request under it). ``ROUTE_NAME`` failing
        is a probe internal error: the request keeps the route's published name. An app that
        hides its routes (``EXPOSE_ROUTES`` False) gets no header either."""
        try:
            served = served_name(named, request, response, settings.ROUTE_NAME)
        except Exception:
            self._internal_error("naming the route served (PERFLAB['ROUTE_NAME'])")
            return named.name
        # ASCII: safe for _set_header (a page type may be a non-ASCII identifier)
        if served != named.name and settings.EXPOSE_ROUTES and served.isascii():
            _set_header(response, _ROUTE, served)
        return served

    def _unrecorded(self, response, request):
        """A request the probe does not record (sampled out, ignored, disabled) is still
        named, so the client counts every request of a split route the same way."""
        try:
            named = named_route_of(request)
            settings = self.probe.settings
            if _split(named, settings):
                self._served_route(named, request, response, settings)
        except Exception:
            self._internal_error("naming the route served")
        return self._tag(response, request)

    def _tag(self, response, request):
        request_id = getattr(request, "perflab_request_id", None)
        if request_id:
            _set_header(response, _REQUEST_ID, request_id)
        return response

    def _internal_error(self, step: str) -> None:
        self.probe.internal_errors += 1
        if self.probe.internal_errors <= 5:
            logger.exception("perflab: probe error while %s (request unaffected)", step)


mark_boundary(ProbeMiddleware.__call__)
mark_boundary(ProbeMiddleware.__acall__)

_REQUEST_ID = ("x-request-id", "X-Request-ID")
_ROUTE = (ROUTE_HEADER.lower(), ROUTE_HEADER)


def _split(named: NamedRoute, settings) -> bool:
    """Whether this route's requests are named by what each served (Wagtail's pages, or
    every matched route when ``ROUTE_NAME`` is set)."""
    return named.by_page or (settings.ROUTE_NAME is not None and named is not UNMATCHED)


_SERVER_TIMING = ("server-timing", "Server-Timing")


def _server_timing(entries: list[ServerTiming], duration_ms: float) -> str:
    """``db;dur=1.2;desc="3 queries", app;dur=4.5, total;dur=5.7`` (milliseconds): the
    recorders' entries, then ``app`` (the total less theirs) and ``total``.

    Tenths are formatted as integers: float formatting cost ~4 µs per request in place,
    integer formatting ~1. The header skips Django's check (``_set_header``), so an entry
    whose name is not a token is left out, and a description that cannot be quoted as is."""
    total = round(duration_ms * 10)
    app = total
    header = ""
    for name, ms, desc in entries:
        if name not in _TIMING_NAMES and not _timing_name(name):
            continue
        tenths = round(ms * 10) if ms >= 0 else 0  # NaN compares False: 0
        app -= tenths
        if desc in _QUOTABLE or _quotable(desc):
            header += f'{name};dur={tenths // 10}.{tenths % 10};desc="{desc}", '
        else:
            header += f"{name};dur={tenths // 10}.{tenths % 10}, "
    if app < 0:
        app = 0
    return f"{header}app;dur={app // 10}.{app % 10}, total;dur={total // 10}.{total % 10}"


# Names and descriptions found valid, remembered (up to a bound): the check on the request
# path is then one set lookup.
_TIMING_NAMES = {"db"}
_QUOTABLE: set[str] = set()
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _timing_name(name: str) -> bool:
    """Whether ``name`` is a token (RFC 9110), as a Server-Timing metric name must be."""
    if not (isinstance(name, str) and _TOKEN.fullmatch(name)):
        return False
    if len(_TIMING_NAMES) < 64:
        _TIMING_NAMES.add(name)
    return True


def _quotable(desc: str | None) -> bool:
    """Whether ``desc`` goes between the quotes of a Server-Timing description as it is:
    printable ASCII without ``"`` or ``\\``."""
    if not (isinstance(desc, str) and desc.isascii() and desc.isprintable()):
        return False
    if '"' in desc or "\\" in desc or not desc:
        return False
    if len(_QUOTABLE) < 1024:
        _QUOTABLE.add(desc)
    return True


def _set_header(response, header: tuple[str, str], value: str) -> None:
    """``response[name] = value`` without Django's check of each header for newlines and
    its charset: the probe's values are ASCII by construction (request ids match
    ``_VALID_REQUEST_ID`` or are hex; Server-Timing is numbers), and the check was ~8 %
    of the probe's Python per request. Falls back to the checked way for a response
    whose headers are not Django's ``ResponseHeaders``."""
    try:
        response.headers._store[header[0]] = (header[1], value)
    except AttributeError:
        response[header[1]] = value


def _response_size(response) -> int:
    if getattr(response, "streaming", False):
        return int(response.get("Content-Length") or 0)
    return len(response.content)


def _user_id(request) -> str | None:
    """The user's id if authentication already ran; never forces a session lookup."""
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)  # a SimpleLazyObject not yet evaluated: skip
    if wrapped is None or type(wrapped).__name__ == "object":
        return None
    if getattr(wrapped, "is_authenticated", False):
        return str(wrapped.pk)
    return None


def _is_staff(request) -> bool:
    user = request.__dict__.get("user")
    return bool(getattr(user, "is_active", False) and getattr(user, "is_staff", False))
