"""Name requests after the Django route that serves them, not their unique URL.

Locust keys statistics by URL, so ``/api/posts/1/`` … ``/api/posts/9999/`` become thousands
of rows and unbounded memory (Locust #375). When the probe publishes the app's URL patterns
(``/perf/api/urlpatterns/``) the runner names each request ``/api/posts/<pk>/`` instead —
the same route the probe records server-side, which is what lets the report join both sides.
Requests the locustfile named itself (``name=...`` or ``rename_request``) keep their name.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

PATTERNS_PATH = "/perf/api/urlpatterns/"


class RouteGrouper:
    """Maps a request's (name, url) to a route name; bounded memory whatever the URLs."""

    def __init__(self, patterns: list[dict]) -> None:
        self._patterns = [(re.compile(p["regex"]), "/" + p["route"]) for p in patterns]
        self.name_for_url = lru_cache(maxsize=4096)(self._name_for_url)

    def _name_for_url(self, url: str) -> str | None:
        """``/api/posts/12/?page=2`` → ``/api/posts/<pk>/?page=…``; None for unknown paths."""
        parts = urlsplit(url)
        route = self.route_for(parts.path)
        if route is None:
            return None
        if parts.query:  # keep which parameters were sent, not their values
            keys = sorted({key for key, _ in parse_qsl(parts.query, keep_blank_values=True)})
            route += "?" + "&".join(f"{key}=…" for key in keys)
        return route

    def route_for(self, path: str) -> str | None:
        relative = path.lstrip("/")
        for regex, route in self._patterns:
            if regex.match(relative):
                return route
        return None


def fetch_app_description(host: str, timeout: float = 3.0) -> dict | None:
    """``{"urlpatterns": [...], "app": {...}}`` from the app's probe, or None (no probe,
    hidden, or unreachable)."""
    try:
        with urllib.request.urlopen(host.rstrip("/") + PATTERNS_PATH, timeout=timeout) as reply:
            body = json.load(reply)
        for entry in body["urlpatterns"]:
            re.compile(entry["regex"])
            str(entry["route"])
        if not isinstance(body.get("app", {}), dict):
            return None
        return body
    except (OSError, ValueError, KeyError, TypeError, re.error, urllib.error.URLError):
        return None
