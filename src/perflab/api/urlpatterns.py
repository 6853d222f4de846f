"""The app's URL patterns as regexes, so a load generator can group URLs by Django route.

Locust keys its statistics by URL; ``/api/posts/1/`` … ``/api/posts/9999/`` become thousands
of rows (Locust #375). The runner fetches this list once and names every request after the
route that serves it — the same readable pattern the probe stores (``api/posts/<pk>/``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

from perflab.middleware import readable_route

_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def url_patterns() -> list[dict]:
    """Every endpoint as ``{"route", "regex", "dynamic"}``, in the resolver's order.

    ``regex`` matches the path without its leading slash (as Django's resolver does); named
    groups are made anonymous because includes may reuse a name.
    """
    return [
        {"route": readable_route(route), "regex": regex, "dynamic": "(" in regex}
        for route, regex in _walk(get_resolver().url_patterns, "", "")
    ]


def _walk(patterns, route: str, regex: str) -> Iterator[tuple[str, str]]:
    for entry in patterns:
        part_route = _strip_caret(str(entry.pattern))
        part_regex = _NAMED_GROUP.sub("(?:", _strip_caret(entry.pattern.regex.pattern))
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route + part_route, regex + part_regex)
        elif isinstance(entry, URLPattern):
            yield route + part_route, "^" + regex + part_regex


def _strip_caret(text: str) -> str:
    return text[1:] if text.startswith("^") else text


def app_facts() -> dict:
    """What a load-test report should state about the app it measured."""
    import platform

    import django
    from django.conf import settings
    from django.db import connection

    return {
        "django": django.get_version(),
        "python": platform.python_version(),
        "debug": bool(settings.DEBUG),
        "database": connection.vendor,
    }
