"""What perflab adds to every request Locust sends: an X-Request-ID and an in-flight count.

Both of Locust's clients (HttpSession and FastHttpSession) funnel every request through
``_send_request_safe_mode``; wrapping that one method covers HttpUser and FastHttpUser
without touching the user's locustfile. The id is what the probe stores, so the report can
put client latency next to server time for the very same request.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from functools import wraps

from perflab.load.grouping import RouteGrouper

HEADER = "X-Request-ID"


class ClientTracker:
    """Process-wide counters for the requests Locust's clients are sending right now."""

    def __init__(self) -> None:
        self.prefix = f"pl-{os.urandom(4).hex()}-"
        self._counter = itertools.count(1)
        self.in_flight = 0
        self.sent = 0

    def next_id(self) -> str:
        return f"{self.prefix}{next(self._counter):x}"

    def install(self, grouper: RouteGrouper | None = None) -> None:
        """Wrap both Locust clients (once per process; installing again replaces the wrap)."""
        from locust.clients import HttpSession
        from locust.contrib.fasthttp import FastHttpSession

        for cls in (HttpSession, FastHttpSession):
            send = getattr(cls._send_request_safe_mode, "__perflab_original__", None)
            cls._send_request_safe_mode = self._wrap(send or cls._send_request_safe_mode)
            request = getattr(cls.request, "__perflab_original__", None) or cls.request
            cls.request = _named_by_route(request, grouper) if grouper else request

    def _wrap(self, send):
        tracker = self

        @wraps(send)
        def send_with_id(session, method, url, **kwargs):
            headers = kwargs.get("headers")
            headers = dict(headers) if headers else {}
            session_headers = getattr(session, "headers", None)
            request_id = None
            if not _has_id(headers) and not (session_headers and _has_id(session_headers)):
                request_id = headers[HEADER] = f"{tracker.prefix}{next(tracker._counter):x}"
            kwargs["headers"] = headers
            tracker.in_flight += 1
            tracker.sent += 1
            try:
                response = send(session, method, url, **kwargs)
            finally:
                tracker.in_flight -= 1
            if request_id is not None:  # read back by request_id_of without a header lookup
                with contextlib.suppress(AttributeError):
                    response._perflab_request_id = request_id
            return response

        send_with_id.__perflab_original__ = send
        return send_with_id


def _named_by_route(request, grouper: RouteGrouper):
    """Unnamed requests get their route's name before Locust's own statistics see them."""

    @wraps(request)
    def request_named(session, method, url, name=None, *args, **kwargs):
        if name is None and not getattr(session, "request_name", None):
            name = grouper.name_for_url(url if isinstance(url, str) else url.decode())
        return request(session, method, url, name, *args, **kwargs)

    request_named.__perflab_original__ = request
    return request_named


def _has_id(headers) -> bool:
    """Whether the locustfile set its own id (any spelling); cheap for the usual ones."""
    if HEADER in headers or "x-request-id" in headers or "X-Request-Id" in headers:
        return True
    return len(headers) > 0 and any(key.lower() == "x-request-id" for key in headers)


def request_id_of(response) -> str | None:
    """The id a request was sent with (ours, or the locustfile's own from the headers)."""
    request_id = getattr(response, "_perflab_request_id", None)
    if request_id is not None:
        return request_id
    request = getattr(response, "request", None)
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    try:
        return headers.get(HEADER)
    except Exception:
        return None
