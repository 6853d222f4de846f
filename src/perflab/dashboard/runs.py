"""The runs page: the load tests ``perflab run`` registered in this store, each with its
verdict, a link to the overview of its window and to its report when the file is here."""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from perflab.api.params import Parameters
from perflab.dashboard.access import dashboard_view
from perflab.dashboard.links import overview_url
from perflab.dashboard.period import RUN_ID
from perflab.dashboard.rendering import SELF_CONTAINED_POLICY, render_page

LISTED = 50
RUN_PATH = Parameters(run_id=RUN_ID)
REPORT_NAME = "report.html"  # what ``perflab report`` writes; nothing else is served


@require_GET
@dashboard_view()
def runs_page(request: HttpRequest, probe) -> HttpResponse:
    runs = []
    for run in probe.store.runs(limit=LISTED):
        report = report_path(run)
        runs.append({
            **run,
            "duration_s": (run["ended"] - run["started"]) if run["ended"] is not None else None,
            "overview_url": overview_url(run=run["run_id"]),
            "report_url": (
                reverse("perflab:dashboard-run-report", args=[run["run_id"]]) if report else None
            ),
        })  # fmt: skip
    return render_page(request, "runs.html", {"runs": runs})


def report_path(run: dict) -> Path | None:
    """The run's recorded report, when it is a file named report.html on this machine."""
    if not run.get("report"):
        return None
    path = Path(run["report"])
    if path.name != REPORT_NAME or not path.is_absolute() or not path.is_file():
        return None
    return path


@require_GET
@dashboard_view(path=RUN_PATH)
def run_report(request: HttpRequest, probe, *, run_id: str) -> HttpResponse:
    run = probe.store.run(run_id)
    if run is None:
        raise Http404(f"no run {run_id!r} in this store")
    path = report_path(run)
    if path is None:
        raise Http404(f"run {run_id}'s report is not on this machine")
    response = FileResponse(path.open("rb"), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = SELF_CONTAINED_POLICY  # its uPlot and JS are inline
    return response
