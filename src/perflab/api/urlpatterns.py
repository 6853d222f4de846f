"""The app's URL patterns as regexes, so a load generator can group URLs by Django route.

Locust keys its statistics by URL; ``/api/posts/1/`` … ``/api/posts/9999/`` become thousands
of rows (Locust #375). The runner fetches this list once and names every request after the
route that serves it — the very name the probe stores (perflab.probe.routes):
``api/posts/<pk>/``, or a URL name for a regex or catch-all (``wagtail_serve``). A route
whose name is decided per response (``per_response``: Wagtail's pages, or every route when
``PERFLAB["ROUTE_NAME"]`` is set) is named by what it served in the probe's
``X-Perflab-Route`` response header (``wagtail_serve[BlogPage]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

from perflab.probe.routes import name_route

_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def url_patterns(per_response: bool | None = None) -> list[dict]:
    """Every endpoint as ``{"route", "regex", "dynamic", "path_style", "per_response"}``, in
    the resolver's order.

    ``regex`` matches the path without its leading slash (as Django's resolver does); named
    groups are made anonymous because includes may reuse a name. ``path_style``: the route
    is named by its pattern (a client writes it ``"/" + route``), not by its URL name.
    ``per_response`` defaults to whether the probe's ``ROUTE_NAME`` is set.
    """
    if per_response is None:
        from perflab.probe.probe import get_probe

        per_response = get_probe().settings.ROUTE_NAME is not None
    entries = []
    for route, regex, url_name, view_name, view in _walk(get_resolver().url_patterns):
        named = name_route(route, url_name, view_name, view)
        entries.append({
            "route": named.name,
            "regex": regex,
            "dynamic": "(" in regex,
            "path_style": named.path_style,
            "per_response": per_response or named.by_page,
        })  # fmt: skip
    return entries


def _walk(
    patterns, route: str = "", regex: str = "", namespaces: tuple[str, ...] = ()
) -> Iterator[tuple[str, str, str | None, str, str]]:
    """(route as ``ResolverMatch.route`` joins it, regex, URL name, view name, view path)."""
    for entry in patterns:
        part_route = str(entry.pattern)
        part_regex = _NAMED_GROUP.sub("(?:", _strip_caret(entry.pattern.regex.pattern))
        joined = route + part_route.removeprefix("^") if route else part_route
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from _walk(entry.url_patterns, joined, regex + part_regex, inner)
        elif isinstance(entry, URLPattern):
            view = entry.lookup_str
            view_name = ":".join((*namespaces, entry.name or view))
            yield joined, "^" + regex + part_regex, entry.name, view_name, view


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
