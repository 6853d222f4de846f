"""What perflab adds to every request Locust sends: an X-Request-ID and an in-flight count.

Both of Locust's clients (HttpSession and FastHttpSession) funnel every request through
``_send_request_safe_mode``; wrapping that one method covers HttpUser and FastHttpUser
without touching the user's locustfile. The id is what the probe stores, so the report can
put client latency next to server time for the very same request.

HttpUser gets the id as one more entry in the request's headers. FastHttpUser is the client
people pick for throughput, and there every extra Python step shows: geventhttpclient merges
each header field into case-insensitive ``Headers`` three times and checks it with two
regular expressions before it writes the request head. So for FastHttpUser the id line is
appended, already formatted, to the head geventhttpclient built (its
``HTTPClient._build_request``), and read back from the head the response keeps
(``FastResponse._sent_request``) — no per-request state in between. Those names are
private: ``install`` checks they still behave as expected and otherwise falls back to the
header (benchmarks/generator.py measures the cost of both).
"""

from __future__ import annotations

import itertools
import os
from functools import lru_cache, wraps

from perflab.load.grouping import RouteGrouper

HEADER = "X-Request-ID"
ID_LINE = f"\r\n{HEADER}: "
_HEAD_END = "\r\n\r\n"


def request_id_prefix(run_id: str) -> str:
    """What every X-Request-ID a run sends starts with, whichever process sent it."""
    return f"pl-{run_id}"


class ClientTracker:
    """Process-wide counters for the requests Locust's clients are sending right now."""

    def __init__(self) -> None:
        self.prefix = f"{request_id_prefix(os.urandom(4).hex())}-"
        self._counter = itertools.count(1)
        self.in_flight = 0
        self.wire_mode = False  # whether FastHttpUser's id is written into the request head

    def for_run(self, run_id: str, process: str = "") -> None:
        """Ids of the run ``run_id`` from now on; ``process`` tells apart the processes of a
        distributed run (each counts on its own)."""
        self.prefix = f"{request_id_prefix(run_id)}{'.' + process if process else ''}-"

    def next_id(self) -> str:
        return f"{self.prefix}{next(self._counter):x}"

    def install(self, grouper: RouteGrouper | None = None) -> None:
        """Wrap both Locust clients (once per process; installing again replaces the wrap)."""
        from locust.clients import HttpSession
        from locust.contrib.fasthttp import FastHttpSession

        self.wire_mode = _install_head_writer(self.next_id)
        for cls, fast in ((HttpSession, False), (FastHttpSession, True)):
            send = getattr(cls._send_request_safe_mode, "__perflab_original__", None)
            send = send or cls._send_request_safe_mode
            if fast and self.wire_mode:
                cls._send_request_safe_mode = self._counted(send)
            else:
                cls._send_request_safe_mode = self._with_id_header(send, own_headers=fast)
            request = getattr(cls.request, "__perflab_original__", None) or cls.request
            cls.request = _named_by_route(request, grouper) if grouper else _unnamed_masked(request)

    def _counted(self, send):
        """FastHttpUser in wire mode: the id is the head writer's job, this only counts."""
        tracker = self

        @wraps(send)
        def send_counted(session, method, url, **kwargs):
            tracker.in_flight += 1
            try:
                return send(session, method, url, **kwargs)
            finally:
                tracker.in_flight -= 1

        send_counted.__perflab_original__ = send
        return send_counted

    def _with_id_header(self, send, own_headers: bool):
        """The id as a request header: HttpUser (and FastHttpUser when wire mode is off)."""
        tracker = self
        counted = self._counted(send)

        @wraps(send)
        def send_with_id(session, method, url, **kwargs):
            headers = kwargs.get("headers")
            if headers is None:
                headers = kwargs["headers"] = {}
            elif not own_headers:  # FastHttpSession.request builds a fresh dict per request
                headers = kwargs["headers"] = dict(headers)  # never the locustfile's dict
            if not _has_id(headers) and not _session_has_id(session):
                headers[HEADER] = tracker.next_id()
            return counted(session, method, url, **kwargs)

        send_with_id.__perflab_original__ = send
        return send_with_id


def _install_head_writer(next_id) -> bool:
    """Make geventhttpclient end every request head with an id line, unless the request's
    headers (the locustfile's, FastHttpUser.default_headers) carry one already.

    Returns False — header mode — when geventhttpclient's private method no longer looks
    the way this expects. A redirect followed by the client gets an id of its own."""
    try:
        from geventhttpclient.client import HTTPClient

        build = HTTPClient._build_request
        build = getattr(build, "__perflab_original__", build)

        @wraps(build)
        def build_with_id(client, *args, **kwargs):
            head = build(client, *args, **kwargs)
            headers = kwargs.get("headers")
            if headers is not None and "x-request-id" in headers:  # Headers: any spelling
                return head
            return f"{head[:-2]}{HEADER}: {next_id()}{_HEAD_END}"

        build_with_id.__perflab_original__ = build
        head = build_with_id(HTTPClient("127.0.0.1", 9), "GET", "/", body=b"", headers={})
        if not (head.endswith(_HEAD_END) and id_in_head(head) and head.count(HEADER) == 1):
            return False
        HTTPClient._build_request = build_with_id
        return True
    except Exception:  # a geventhttpclient this code does not know: stay with the header
        return False


def _named_by_route(request, grouper: RouteGrouper):
    """Unnamed requests get their route's name before Locust's own statistics see them."""

    @wraps(request)
    def request_named(session, method, url, name=None, *args, **kwargs):
        if name is None and not getattr(session, "request_name", None):
            name = grouper.name_for_url(url if isinstance(url, str) else url.decode())
        return request(session, method, url, name, *args, **kwargs)

    request_named.__perflab_original__ = request
    return request_named


def _unnamed_masked(request):
    """Without the app's routes a request keeps Locust's name, its URL, which results.json,
    requests.csv and the report show: the values of secret query parameters are masked
    there by the probe's rule (``?token=********``); a URL with none keeps Locust's name."""

    @wraps(request)
    def request_masked(session, method, url, name=None, *args, **kwargs):
        # (rename_request's name is left to Locust)
        if name is None and type(url) is str and "?" in url and not session.request_name:
            name = _masked_name(url)
        return request(session, method, url, name, *args, **kwargs)

    request_masked.__perflab_original__ = request
    return request_masked


@lru_cache(maxsize=4096)
def _masked_name(url: str) -> str | None:
    from perflab.probe.masking import mask_url
    from perflab.probe.settings import DEFAULT_SENSITIVE_NAMES  # imported here: it imports Django

    masked = mask_url(url, tuple(DEFAULT_SENSITIVE_NAMES))
    return None if masked == url else masked


def _has_id(headers) -> bool:
    """Whether the locustfile set its own id: X-Request-ID, x-request-id or X-Request-Id
    (requests' session headers match any spelling)."""
    return HEADER in headers or "x-request-id" in headers or "X-Request-Id" in headers


def _session_has_id(session) -> bool:
    """Whether the session sends an id with every request: HttpSession.headers, or
    FastHttpUser.default_headers (geventhttpclient's Headers match any spelling)."""
    session_headers = getattr(session, "headers", None)
    if session_headers is not None:
        return _has_id(session_headers)
    defaults = getattr(getattr(session, "client", None), "default_headers", None)
    return defaults is not None and "x-request-id" in defaults


def id_in_head(head: str) -> str | None:
    """The id in a request head perflab wrote it into."""
    start = head.find(ID_LINE)
    if start < 0:
        return None
    start += len(ID_LINE)
    return head[start : head.find("\r\n", start)]


def resolve_request_id(ref: str) -> str | None:
    """An id, or the request head it is written in (what the runner keeps per request)."""
    return id_in_head(ref) if "\r\n" in ref else ref


def request_id_of(response) -> str | None:
    """The id a response's request was sent with: read from the request head FastHttpUser
    keeps, else from the request's headers (HttpUser, or an id the locustfile set)."""
    head = getattr(response, "_sent_request", None)
    if type(head) is str:
        request_id = id_in_head(head)
        if request_id is not None:
            return request_id
    headers = getattr(getattr(response, "request", None), "headers", None)
    if headers is None:
        return None
    try:
        return headers.get(HEADER)
    except Exception:
        return None
