"""The dashboard's pages as HTML: its own Django template engine over the package's templates.

An engine of its own rather than the app's ``TEMPLATES``: the app may have only Jinja2, no
``APP_DIRS``, or templates that shadow ours; the dashboard renders the same everywhere. The
engine autoescapes, as Django's does: paths, headers and SQL come from untrusted requests.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import Context, Engine
from django.urls import reverse

TEMPLATES = Path(__file__).parent / "templates"
CACHE_CONTROL = "private, no-store"  # recordings are for the reader's eyes only
# The pages load only the dashboard's own assets and talk only to their own origin: whatever
# a recorded request smuggled into a page could neither run nor send anything elsewhere.
# (Bars of the waterfall are placed with style attributes.)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
# A self-contained page served as it is (pyinstrument's profile, a run's report.html): its
# scripts and styles inline, nothing loaded from anywhere (``data:`` only).
SELF_CONTAINED_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline' data:; "
    "img-src data:; font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


@cache
def engine() -> Engine:
    return Engine(
        dirs=[str(TEMPLATES)],
        app_dirs=False,
        autoescape=True,
        loaders=[
            ("django.template.loaders.cached.Loader", ["django.template.loaders.filesystem.Loader"])
        ],
        builtins=["perflab.dashboard.formats"],
    )


def render_page(
    request: HttpRequest, name: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """``perflab/dashboard/<name>`` rendered with what every page shows (the search box and
    the navigation), as a private, uncached response."""
    page = {
        "request": request,
        "nav": {
            "overview": reverse("perflab:dashboard"),
            "sql": reverse("perflab:dashboard-sql"),
            "runs": reverse("perflab:dashboard-runs"),
            "search": reverse("perflab:dashboard-search"),
        },
        **context,
    }
    template = engine().get_template(f"perflab/dashboard/{name}")
    response = HttpResponse(template.render(Context(page)), status=status)
    response["Cache-Control"] = CACHE_CONTROL
    return response


def message_page(
    request: HttpRequest, status: int, title: str, line: str, bare: bool = False
) -> HttpResponse:
    """A page of one line: what a 400, 403, 404 or 503 says. ``bare``: without the
    navigation and assets (a refused visitor's page asks for nothing it would be refused)."""
    context = {"title": title, "line": line, "bare": bare}
    return render_page(request, "message.html", context, status=status)
