"""``Capture``: what the probe's recorders saw during a block of test code.

The test suite gets no second SQL capture: a capture puts an ``ActiveRequest`` in
``current_request``, the same context variable the probe's middleware uses, so the probe's
own recorders (SQL on every alias, cache, templates, spans) append to it, with their call
sites. Each request Django handles meanwhile (test client, DRF's ``APIClient``, the async
client, a live server's thread) is a record of its own: ``BaseHandler.get_response`` and
``get_response_async`` are wrapped once per process, and pass straight through when no
capture is open. When the app also runs the probe's middleware, the middleware records the
request for its store as always and hands its events to the capture's record
(``ActiveRequest.absorb``). The records are then finished by the recorders' own
``complete`` (fingerprints, call sites, masking), and N+1s and duplicates are found by the
probe's ``detect_findings``, at the capture's threshold.

Captures nest (a marker's budget, a ``perf.budget`` block inside it, the ``--perflab``
sweep around both): each one sees every request and every statement of its block.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from perflab.errors import PerflabError
from perflab.probe.callsite import mark_boundary
from perflab.probe.context import ActiveRequest, current_request
from perflab.probe.findings import detect_findings
from perflab.probe.fingerprint import statement_kind
from perflab.probe.probe import get_probe
from perflab.probe.process import current_pid
from perflab.probe.records import CacheEvent, Finding, QueryEvent, RequestRecord, TemplateEvent
from perflab.probe.routes import named_route_of

# Statements a budget does not count and a snapshot does not list: the test's own
# transactions (TestCase's savepoints, ATOMIC_REQUESTS) come and go with how a test is run.
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END"})
# The test threshold: test data is small, and the same statement from the same place twice
# in one request is a loop over rows. The probe's NPLUSONE_THRESHOLD (5) is for traffic.
TEST_NPLUSONE_THRESHOLD = 2
OUTSIDE = "(test code)"  # the view of what ran outside any request

_open: list[Capture] = []  # the captures open now, outermost first (any thread)
_lock = threading.Lock()
_ids = itertools.count(1)


@dataclass(slots=True)
class Located:
    """One finding and the record (a request, or the test code) it was found in."""

    finding: Finding
    record: RequestRecord


class Capture:
    """A block of test code, as the probe saw it: ``with Capture() as seen: ...``, then
    ``seen.records`` (one per request, and one for the test code around them), ``seen.queries``
    (every statement but transaction control, in order) and ``seen.findings``."""

    def __init__(self, threshold: int = TEST_NPLUSONE_THRESHOLD) -> None:
        self.threshold = max(threshold, 2)
        self._requests: list[tuple[float, RequestRecord]] = []  # (t0, record), as they end
        self._skipped = 0  # statements beyond MAX_QUERIES_PER_REQUEST: counted, not kept
        self._code: ActiveRequest | None = None
        self._token = None
        self._outside: RequestRecord | None = None
        self._findings: list[Located] | None = None
        self.t0 = 0.0

    def __enter__(self) -> Capture:
        from django.conf import settings

        if not settings.configured:
            raise PerflabError(
                "perflab's budgets record Django's statements, and Django's settings are not "
                "configured: set DJANGO_SETTINGS_MODULE (pytest-django: --ds or its ini key)"
            )
        probe = get_probe()  # installs the recorders when the app has not (no perflab app)
        install_handler_hooks()
        self._code = ActiveRequest(
            probe.settings, f"capture-{next(_ids)}", "", "", current_pid(), "", {}
        )
        self.t0 = self._code.t0
        self._token = current_request.set(self._code)
        with _lock:
            _open.append(self)
        return self

    def __exit__(self, *exc_info) -> None:
        with _lock:
            if self in _open:
                _open.remove(self)
        code = self._code
        current_request.reset(self._token)
        outer = current_request.get()
        if outer is not None:  # an enclosing capture (or request) sees this block's events too
            outer.absorb(code)
        self._outside = _finished(code, "", OUTSIDE, 0)
        self._skipped += code.skipped_queries

    def _add_request(self, t0: float, record: RequestRecord, skipped: int) -> None:
        self._requests.append((t0, record))
        self._skipped += skipped

    # -- what was seen ------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """One record per request Django handled in the block, in the order they began."""
        return [record for _, record in sorted(self._requests, key=_first)]

    @property
    def outside(self) -> RequestRecord:
        """What ran outside any request (the test's own code), as one record (``view`` is
        ``OUTSIDE``); available once the block has ended."""
        if self._outside is None:
            raise RuntimeError("the capture is still open")
        return self._outside

    @property
    def records(self) -> list[RequestRecord]:
        """The test code's record (when it ran anything) and every request's."""
        outside = self.outside
        busy = outside.queries or outside.cache or outside.templates
        return ([outside] if busy else []) + self.requests

    @property
    def queries(self) -> list[QueryEvent]:
        """Every statement but transaction control, in the order they began."""
        return [event for _, event in self.timeline() if isinstance(event, QueryEvent)]

    @property
    def all_queries(self) -> list[QueryEvent]:
        """Every statement, transaction control included, in the order they began."""
        return [q for _, _, q in self._events(with_control=True) if isinstance(q, QueryEvent)]

    @property
    def skipped_queries(self) -> int:
        """Statements beyond ``MAX_QUERIES_PER_REQUEST``: counted, not kept."""
        return self._skipped

    @property
    def findings(self) -> list[Located]:
        """Every N+1 and duplicate, each in the record it was found in (detected per
        request, and once over the test code), costliest first within a record."""
        if self._findings is None:
            self._findings = [
                Located(finding, record)
                for record in self.records
                for finding in detect_findings(_counted(record.queries), self.threshold)
            ]
        return self._findings

    def timeline(self) -> list[tuple[RequestRecord, QueryEvent | CacheEvent | TemplateEvent]]:
        """Statements (but transaction control), cache calls and template renders of every
        record, in the order they began: what a snapshot lists."""
        return [(record, event) for _, record, event in self._events(with_control=False)]

    def _events(self, with_control: bool) -> Iterator[tuple[float, RequestRecord, object]]:
        moments = [(self.t0, self.outside), *self._requests]
        events = []
        for t0, record in moments:
            base = (t0 - self.t0) * 1000.0
            for kind in (record.queries, record.cache, record.templates):
                for event in kind:
                    if not with_control and _is_control(event):
                        continue
                    start = event.start_ms if event.start_ms is not None else 0.0
                    events.append((base + start, record, event))
        events.sort(key=_first)
        return iter(events)


def _first(pair: tuple) -> float:
    return pair[0]


def is_transaction_control(query: QueryEvent) -> bool:
    """``BEGIN``, ``SAVEPOINT``, ``RELEASE``…: never counted by a budget nor snapshotted."""
    return statement_kind(query.sql) in TRANSACTION_CONTROL


def _is_control(event: object) -> bool:
    return isinstance(event, QueryEvent) and is_transaction_control(event)


def _counted(queries: list[QueryEvent]) -> list[QueryEvent]:
    return [q for q in queries if not is_transaction_control(q)]


def _finished(active: ActiveRequest, route: str, view: str, status: int) -> RequestRecord:
    """The record the writer would store, derived by the recorders' own ``complete``."""
    active.duration_ms = active.offset_ms(time.perf_counter())
    active.cpu_ms = (time.thread_time() - active.cpu0) * 1000.0
    active.route, active.view, active.status = route, view, status
    active.response_bytes, active.user_id, active.profile = 0, None, None
    probe = get_probe()
    record = RequestRecord.thawed(active.frozen())
    probe.complete(record)
    return record


class CapturesPaused:
    """A block no open capture sees (a time budget's measured calls: the recorders' work on
    every statement would be timed as the app's); the captures resume after it."""

    def __enter__(self) -> CapturesPaused:
        with _lock:
            self._paused = list(_open)
            _open.clear()
        self._token = current_request.set(None)
        return self

    def __exit__(self, *exc_info) -> None:
        current_request.reset(self._token)
        with _lock:
            _open[:0] = self._paused  # before any opened in the block (outermost first)


# -- the request hook ---------------------------------------------------------------------


def _begin(request) -> ActiveRequest:
    settings = get_probe().settings
    return ActiveRequest(
        settings, f"capture-request-{next(_ids)}", request.method, request.path, current_pid(),
        request.META.get("QUERY_STRING", ""), {},
    )  # fmt: skip


def _end(request, response, active: ActiveRequest) -> None:
    named = named_route_of(request)
    record = _finished(active, named.name, named.view, getattr(response, "status_code", 0))
    with _lock:
        for capture in _open:
            capture._add_request(active.t0, record, active.skipped_queries)


def install_handler_hooks() -> None:
    """Wrap Django's request handler once per process: requests become records of the open
    captures; with none open, one list check and the handler as it was."""
    from django.core.handlers.base import BaseHandler

    if getattr(BaseHandler.get_response, "_perflab_capture", False):
        return
    get_response = BaseHandler.get_response
    get_response_async = BaseHandler.get_response_async
    resolve_request = BaseHandler.resolve_request

    @functools.wraps(get_response)
    def captured_get_response(handler, request):
        if not _open:
            return get_response(handler, request)
        active = _begin(request)
        token = current_request.set(active)
        try:
            response = get_response(handler, request)
        finally:
            current_request.reset(token)
        _end(request, response, active)
        return response

    @functools.wraps(get_response_async)
    async def captured_get_response_async(handler, request):
        if not _open:
            return await get_response_async(handler, request)
        active = _begin(request)
        token = current_request.set(active)
        try:
            response = await get_response_async(handler, request)
        finally:
            current_request.reset(token)
        _end(request, response, active)
        return response

    @functools.wraps(resolve_request)
    def marked_resolve_request(handler, request):
        match = resolve_request(handler, request)
        if _open:  # call-site walks stop at the view, as under the probe's middleware
            mark_boundary(match.func)
        return match

    captured_get_response._perflab_capture = True
    BaseHandler.get_response = captured_get_response
    BaseHandler.get_response_async = captured_get_response_async
    BaseHandler.resolve_request = marked_resolve_request
    mark_boundary(captured_get_response)
    mark_boundary(captured_get_response_async)
