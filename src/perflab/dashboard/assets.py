"""The dashboard's CSS and JavaScript and uPlot (the copy vendored for the report, served from
where it is, not copied), behind the same access check as the pages: no network at
runtime, no CDN."""

from __future__ import annotations

from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from perflab.api.params import Parameters, Text
from perflab.dashboard.access import dashboard_view

STATIC = Path(__file__).parent / "static"
UPLOT = Path(__file__).parent.parent / "report" / "static"

ASSETS: dict[str, tuple[Path, str]] = {
    "dashboard.css": (STATIC / "dashboard.css", "text/css; charset=utf-8"),
    "dashboard.js": (STATIC / "dashboard.js", "text/javascript; charset=utf-8"),
    "uPlot.min.css": (UPLOT / "uPlot.min.css", "text/css; charset=utf-8"),
    "uPlot.iife.min.js": (UPLOT / "uPlot.iife.min.js", "text/javascript; charset=utf-8"),
}
ASSET_PATH = Parameters(name=Text(max_length=100))


@require_GET
@dashboard_view(path=ASSET_PATH)
def asset(request: HttpRequest, probe, *, name: str) -> HttpResponse:
    if name not in ASSETS:
        raise Http404(f"no asset {name!r}")
    path, content_type = ASSETS[name]
    return HttpResponse(path.read_bytes(), content_type=content_type)
