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
from functools import lru_cache

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from perflab.probe.callsite import mark_boundary
from perflab.probe.context import ActiveRequest, current_request
from perflab.probe.masking import mask_body, mask_headers, mask_query_string
from perflab.probe.probe import get_probe
from perflab.probe.process import current_pid
from perflab.probe.profiling import RequestProfiler
from perflab.probe.records import RequestRecord
from perflab.probe.settings import ProbeSettings

logger = logging.getLogger("perflab.probe")
slow_logger = logging.getLogger("perflab.slow")

REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


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


@lru_cache(maxsize=1024)
def readable_route(route: str) -> str:
    """``api/posts/(?P<pk>[^/.]+)/$`` → ``api/posts/<pk>/``: regex routes read like path() ones."""
    return _REGEX_GROUP.sub(r"<\1>", route).replace("^", "").replace("$", "")


def route_of(request) -> tuple[str, str]:
    """(route pattern, view name): ``api/posts/<pk>/`` whether path() or a regex router."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "", ""
    return readable_route(match.route or ""), match._func_path


class ProbeMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    @property
    def probe(self):
        return get_probe()  # looked up each time: tests and reloads may replace it

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        state = self._begin(request)
        if state is None:
            return self._tag(self.get_response(request), request)
        token = current_request.set(state[0])
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        return self._end(request, response, *state)

    def process_view(self, request, view_func, view_args, view_kwargs) -> None:
        """Once the route is known: profile it if an earlier slow request armed it."""
        active = current_request.get()
        if active is None:
            return
        try:
            mark_boundary(view_func)  # call-site walks stop here (perflab.probe.callsite)
        except Exception:
            self._internal_error("marking the view")
        if active.profiler is not None:
            return
        try:
            route, _ = route_of(request)
            if self.probe.rules.wants_route(route):
                active.profiler = RequestProfiler(active.settings, self.is_async)
        except Exception:
            self._internal_error("starting a profile")

    async def __acall__(self, request):
        state = self._begin(request)
        if state is None:
            return self._tag(await self.get_response(request), request)
        token = current_request.set(state[0])
        try:
            response = await self.get_response(request)
        finally:
            current_request.reset(token)
        return self._end(request, response, *state)

    # -- the guarded steps ----------------------------------------------------------------

    def _begin(self, request):
        """(active record, cpu start) or None when this request is not recorded."""
        try:
            request.perflab_request_id = request_id_for(request.META)
            probe = self.probe
            settings = probe.settings
            if not settings.ENABLED or settings.ignored_path(request.path):
                return None
            if settings.SAMPLE_PERCENT < 100 and random.random() * 100 >= settings.SAMPLE_PERCENT:
                return None
            if settings.INTERCEPT is not None and not settings.INTERCEPT(request):
                return None
            record = RequestRecord(
                request_id=request.perflab_request_id,
                method=request.method,
                path=request.path,
                started=time.time(),
                pid=current_pid(),
                query_string=mask_query_string(
                    request.META.get("QUERY_STRING", ""), settings.SENSITIVE_NAMES
                ),
                headers=mask_headers(request.META, settings.SENSITIVE_NAMES),
            )
            if settings.CAPTURE_BODY and request.method in ("POST", "PUT", "PATCH"):
                record.body = mask_body(
                    request.body, request.content_type or "", settings.SENSITIVE_NAMES,
                    settings.MAX_BODY_BYTES,
                )  # fmt: skip
            active = ActiveRequest(record, settings)
            wanted, active.profile_staff_only = probe.rules.wants(request.path, request.META)
            if wanted:
                active.profiler = RequestProfiler(settings, self.is_async)
            return active, time.thread_time()
        except Exception:
            self._internal_error("starting a record")
            return None

    def _end(self, request, response, active: ActiveRequest, cpu_start: float):
        try:
            probe = self.probe
            record = active.record
            record.duration_ms = active.offset_ms(time.perf_counter())
            record.cpu_ms = (time.thread_time() - cpu_start) * 1000.0
            record.route, record.view = route_of(request)
            record.status = response.status_code
            record.response_bytes = _response_size(response)
            record.user_id = _user_id(request)
            if active.profiler is not None:
                if active.profile_staff_only and not _is_staff(request):
                    active.profiler.discard()
                else:
                    record.profile = active.profiler.stop()
            for recorder in probe.recorders:
                recorder.finish(active)
            probe.rules.observe(record.route, record.duration_ms)
            self._annotate(response, record, probe.settings)
            probe.writer.submit(record)
        except Exception:
            self._internal_error("finishing a record")
        return self._tag(response, request)

    def _annotate(self, response, record: RequestRecord, settings: ProbeSettings) -> None:
        if settings.SERVER_TIMING:
            db = record.db_ms
            response["Server-Timing"] = (
                f'db;dur={db:.1f};desc="{record.query_count} queries", '
                f"app;dur={max(record.duration_ms - db, 0):.1f}, "
                f"total;dur={record.duration_ms:.1f}"
            )
        if record.duration_ms >= settings.SLOW_REQUEST_MS:
            slow_logger.warning(
                "slow request: %s %s (%s) %.0f ms, %d queries, %.0f ms in SQL, request id %s",
                record.method, record.path, record.route or "unmatched", record.duration_ms,
                record.query_count, record.db_ms, record.request_id,
            )  # fmt: skip

    def _tag(self, response, request):
        request_id = getattr(request, "perflab_request_id", None)
        if request_id:
            response["X-Request-ID"] = request_id
        return response

    def _internal_error(self, step: str) -> None:
        self.probe.internal_errors += 1
        if self.probe.internal_errors <= 5:
            logger.exception("perflab: probe error while %s (request unaffected)", step)


mark_boundary(ProbeMiddleware.__call__)
mark_boundary(ProbeMiddleware.__acall__)


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
