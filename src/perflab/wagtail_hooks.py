"""Wagtail's hooks (Wagtail imports ``wagtail_hooks`` of every installed app, perflab's too).

Every Wagtail page is served by one catch-all route; the probe names each request by the
page's type (``wagtail_serve[BlogPage]``, perflab.probe.routes) from what this hook notes.
"""

from __future__ import annotations

from wagtail import hooks

from perflab.probe.routes import PAGE_TYPE_ATTR


@hooks.register("before_serve_page")
def note_page_type(page, request, serve_args, serve_kwargs) -> None:
    """Note the type of the page about to be served (one attribute on the request)."""
    setattr(request, PAGE_TYPE_ATTR, type(page).__name__)
