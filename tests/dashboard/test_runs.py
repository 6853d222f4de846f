"""The runs page: registered runs newest first with their verdicts, the overview of a run's
window, and its report.html when that file is on this machine (nothing else is served)."""

import time

import pytest

from perflab.probe.store.schema import RunRow
from tests.dashboard.conftest import page

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]


def run_row(run_id: str, started: float, **fields) -> RunRow:
    values = dict(run_id=run_id, started=started, ended=started + 90, host="http://127.0.0.1:8000",
                  status="completed", verdict="pass", requests=1200, failures=3, p95_ms=41.5,
                  out_dir=None, report=None, request_id_prefix=f"{run_id}-",
                  command="perflab run --headless")  # fmt: skip
    return RunRow(**{**values, **fields})


@pytest.fixture
def runs(probe, tmp_path):
    now = time.time()
    report = tmp_path / "run-a" / "report.html"
    report.parent.mkdir()
    report.write_text("<html><body>the report of run a</body></html>")
    elsewhere = tmp_path / "secrets.txt"
    elsewhere.write_text("not a report")
    probe.store.save_run(run_row("run-a", now - 3600, report=str(report)))
    probe.store.save_run(run_row("run-b", now - 600, verdict="fail", report=str(elsewhere)))
    probe.store.save_run(run_row("run-c", now - 60, status="running", ended=None, verdict=None))
    return probe.store


def test_runs_newest_first_with_their_figures(runs, staff):
    html = page(staff.get("/perf/runs/"))
    rows = html.select("#runs tr[data-run-id]")
    assert [r["data-run-id"] for r in rows] == ["run-c", "run-b", "run-a"]
    cells = [td.get_text(strip=True) for td in rows[2].select("td")]
    assert cells[2] == "90 s" and cells[4] == "completed" and cells[5] == "pass"
    assert cells[6] == "1,200" and cells[8] == "41.5 ms"
    assert rows[0]["data-status"] == "running" and rows[0].select("td")[2].text == "—"
    assert rows[0].a["href"] == "/perf/?run=run-c"


def test_a_report_is_served_only_as_report_html(runs, staff):
    html = page(staff.get("/perf/runs/"))
    links = {tr["data-run-id"]: tr.select_one("[data-testid=run-report]")
             for tr in html.select("#runs tr[data-run-id]")}  # fmt: skip
    assert links["run-b"] is None and links["run-c"] is None
    report = staff.get(links["run-a"]["href"])
    assert report.status_code == 200
    assert b"the report of run a" in b"".join(report.streaming_content)
    assert report["Cache-Control"] == "private, no-store"
    # self-contained: its inline scripts may run, and it may load nothing
    assert report["Content-Security-Policy"].startswith(
        "default-src 'none'; script-src 'unsafe-inline'"
    )
    assert staff.get("/perf/runs/run-b/report/").status_code == 404  # not named report.html
    assert staff.get("/perf/runs/run-c/report/").status_code == 404  # none recorded
