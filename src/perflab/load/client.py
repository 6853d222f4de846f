"""What perflab adds to every request Locust sends: an X-Request-ID and an in-flight count.

Both of Locust's clients (HttpSession and FastHttpSession) funnel every request through
``_send_request_safe_mode``; wrapping that one method covers HttpUser and FastHttpUser
without touching the user's locustfile. The id is what the probe stores, so the report can
put client latency next to server time for the very same request.
"""

from __future__ import annotations

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
        # The last response sent with our id: Locust fires the request event right after the
        # send in the same greenlet, so this is usually the one asked about. (FastResponse has
        # __slots__: the id cannot be stored on the response itself.)
        self.last: tuple[object, str] | None = None

    def request_id_of(self, response) -> str | None:
        """The id ``response``'s request was sent with."""
        last = self.last
        if last is not None and last[0] is response:
            return last[1]
        return request_id_of(response)

    def install(self, grouper: RouteGrouper | None = None) -> None:
        """Wrap both Locust clients (once per process; installing again replaces the wrap)."""
        from locust.clients import HttpSession
        from locust.contrib.fasthttp import FastHttpSession

        # FastHttpSession.request builds a fresh headers dict per request: no copy needed.
        for cls, own_headers in ((HttpSession, False), (FastHttpSession, True)):
            send = getattr(cls._send_request_safe_mode, "__perflab_original__", None)
            cls._send_request_safe_mode = self._wrap(send or cls._send_request_safe_mode,
                                                     own_headers)  # fmt: skip
            request = getattr(cls.request, "__perflab_original__", None) or cls.request
            cls.request = _named_by_route(request, grouper) if grouper else request

    def _wrap(self, send, own_headers: bool):
        """The per-request hot path of every load test: keep it to a few dict operations."""
        tracker = self
        prefix = self.prefix
        counter = self._counter

        @wraps(send)
        def send_with_id(session, method, url, **kwargs):
            headers = kwargs.get("headers")
            if headers is None:
                headers = kwargs["headers"] = {}
            elif not own_headers:
                headers = kwargs["headers"] = dict(headers)  # never the locustfile's dict
            request_id = None
            if not _has_id(headers):
                session_headers = getattr(session, "headers", None)
                if not session_headers or not _has_id(session_headers):
                    request_id = headers[HEADER] = f"{prefix}{next(counter):x}"
            tracker.in_flight += 1
            try:
                response = send(session, method, url, **kwargs)
            finally:
                tracker.in_flight -= 1
            if request_id is not None:  # read back by request_id_of without a header lookup
                tracker.last = (response, request_id)
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
    """Whether the locustfile set its own id: X-Request-ID, x-request-id or X-Request-Id
    (requests' session headers match any spelling)."""
    return HEADER in headers or "x-request-id" in headers or "X-Request-Id" in headers


def request_id_of(response) -> str | None:
    """The id a request was sent with, read from its headers (ours or the locustfile's)."""
    request = getattr(response, "request", None)
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    try:
        return headers.get(HEADER)
    except Exception:
        return None
