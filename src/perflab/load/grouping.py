"""Name requests after the Django route that serves them, not their unique URL.

Locust keys statistics by URL, so ``/api/posts/1/`` … ``/api/posts/9999/`` become thousands
of rows and unbounded memory (Locust #375). When the probe publishes the app's URL patterns
(``/perf/api/urlpatterns/``) the runner names each request ``/api/posts/<pk>/`` instead —
the same route the probe records server-side, which is what lets the report join both sides.
A route named by its URL name (a regex or catch-all: ``wagtail_serve``) keeps that name,
without the "/". A route whose name is decided per response (Wagtail's pages) is counted,
in perflab's statistics, under the name of what it served, which the probe sends in
``X-Perflab-Route`` (``wagtail_serve[BlogPage]``); Locust's own statistics keep the route.
Requests the locustfile named itself (``name=...`` or ``rename_request``) keep their name.
"""

from __future__ import annotations

import os
import re
import ssl
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from perflab.mount import API_PATH
from perflab.probe.routes import ROUTE_HEADER

PATTERNS_PATH = f"{API_PATH}urlpatterns/"


class RouteGrouper:
    """Maps a request's (name, url) to a route name; bounded memory whatever the URLs."""

    def __init__(self, patterns: list[dict]) -> None:
        self._patterns = [
            (
                re.compile(p["regex"]),
                ("/" if p.get("path_style", True) else "") + p["route"],
                p["route"] if p.get("per_response") else None,
            )
            for p in patterns
        ]
        # Names given to requests of split routes → (the route + "[", what goes before the
        # served name, what after): the request listener looks a name up here, and reads the
        # response's header only for these.
        self.split: dict[str, tuple[str, str, str]] = {}
        self.name_for_url = lru_cache(maxsize=4096)(self._name_for_url)

    def _name_for_url(self, url: str) -> str | None:
        """``/api/posts/12/?page=2`` → ``/api/posts/<pk>/?page=…``; None for unknown paths."""
        parts = urlsplit(url)
        found = self._route_for(parts.path)
        if found is None:
            return None
        name, split_route = found
        query = ""
        if parts.query:  # keep which parameters were sent, not their values
            keys = sorted({key for key, _ in parse_qsl(parts.query, keep_blank_values=True)})
            query = "?" + "&".join(f"{key}=…" for key in keys)
        if split_route is not None:
            before = name[: len(name) - len(split_route)]  # "/" for a path-style route
            self.split[name + query] = (split_route + "[", before, query)
        return name + query

    def route_for(self, path: str) -> str | None:
        found = self._route_for(path)
        return found[0] if found else None

    def _route_for(self, path: str) -> tuple[str, str | None] | None:
        relative = path.lstrip("/")
        for regex, name, split_route in self._patterns:
            if regex.match(relative):
                return name, split_route
        return None

    def served_name(self, name: str, response) -> str:
        """A split route's request under the name of what it served (``wagtail_serve[BlogPage]``,
        query keys kept), from the probe's header; ``name`` when the response has none."""
        split_route, before, after = self.split[name]
        try:
            served = response.headers.get(ROUTE_HEADER)
        except Exception:  # no response (a connection error), or no headers
            return name
        if type(served) is not str or not served.startswith(split_route):
            return name  # absent, repeated, or another route's (a redirect followed)
        return f"{before}{served}{after}"


def route_named(name: str) -> str:
    """The probe's route a client endpoint name stands for (the inverse of the names above):
    ``/api/posts/<pk>/?page=…`` is ``api/posts/<pk>/``, ``wagtail_serve[BlogPage]?page=…`` is
    ``wagtail_serve[BlogPage]``. ``perflab.report.join`` joins client and server by it."""
    return name.partition("?")[0].removeprefix("/")


def fetch_app_description(host: str, timeout: float = 3.0) -> tuple[dict | None, str]:
    """``({"urlpatterns": [...], "app": {...}}, "")`` from the app's probe, or ``(None, why
    not)`` — one line for ``perflab run`` to print and record.

    Asked with requests as Locust's HttpUser asks (no proxies or .netrc from the
    environment, basic auth from the host's userinfo, certificates checked against certifi's
    store), with one addition: a private CA named by ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` is trusted. HttpUser ignores both (its session has ``trust_env``
    off): a locustfile for such a target sets ``self.client.verify`` itself. A certificate
    that is not trusted is said so; it is never retried unverified."""
    import requests

    url = host.rstrip("/") + PATTERNS_PATH
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    try:
        with requests.Session() as session:
            session.trust_env = False
            reply = session.get(url, timeout=timeout, verify=ca_bundle or True)
    except requests.exceptions.SSLError as exc:
        return None, _tls_refusal(host, exc)
    except requests.exceptions.Timeout:
        return None, f"{PATTERNS_PATH} could not be read (no answer within {timeout:g}s)"
    except (requests.RequestException, OSError) as exc:  # OSError: a CA bundle path not found
        return None, f"{PATTERNS_PATH} could not be read ({_innermost_reason(exc)})"
    if not reply.ok:
        return None, _refusal(reply.status_code)
    try:
        body = reply.json()
    except ValueError:
        return None, f"{PATTERNS_PATH} did not answer JSON (not perflab's probe?)"
    try:
        for entry in body["urlpatterns"]:
            re.compile(entry["regex"])
            str(entry["route"])
        if not isinstance(body.get("app", {}), dict):
            raise TypeError
    except (KeyError, TypeError, AttributeError, re.error):
        return None, f"{PATTERNS_PATH} answered JSON that is not perflab's route list"
    return body, ""


def _tls_refusal(host: str, exc: BaseException) -> str:
    name = urlsplit(host).hostname
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"TLS certificate of {name} not trusted: {cause.verify_message} (a private "
                "CA: REQUESTS_CA_BUNDLE=ca.pem here, self.client.verify in an HttpUser)"
            )
    return f"{PATTERNS_PATH} could not be read (TLS with {name}: {_innermost_reason(exc)})"


def _innermost_reason(exc: BaseException) -> str:
    """The root cause in its own words ("Connection refused"), not requests' wrapping of it,
    which repeats the URL; a plain OSError (a CA bundle path not found) says it itself."""
    reasons = [c.strerror for c in _chain(exc) if isinstance(c, OSError) and c.strerror]
    if reasons:
        return reasons[-1]
    if type(exc) is OSError and str(exc):
        return str(exc).splitlines()[0]
    return type(exc).__name__


def _chain(exc: BaseException):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _refusal(status: int) -> str:
    if status == 404:
        return (
            f"no probe at {PATTERNS_PATH} (404): include('perflab.urls') at perf/, before "
            "any catch-all such as Wagtail's"
        )
    if status in (401, 403):
        return f"the probe hides its routes ({status}: PERFLAB['EXPOSE_ROUTES'] is False)"
    if status == 400:  # Django's answer to a Host header it does not serve
        return f"{PATTERNS_PATH} answered 400 (is the --host name in the app's ALLOWED_HOSTS?)"
    return f"{PATTERNS_PATH} answered {status}"
