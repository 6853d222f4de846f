"""One request's page: the waterfall of statements, cache calls, templates and spans on one
axis with their call sites, N+1 statements highlighted, headers as stored, the run it came
from, and its profile in pyinstrument's own renderer."""

import time

import pytest
from django.test import Client

from perflab.probe.store.schema import RunRow
from tests.dashboard.conftest import page
from tests.probe.conftest import flushed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]


def request_page(staff, store, request_id):
    record = store.request(request_id=request_id)
    return record, page(staff.get(f"/perf/requests/{record['id']}/"))


def test_the_waterfall_holds_every_statement_with_its_call_site(traffic, staff):
    record, html = request_page(staff, traffic.store, "naive-1")
    rows = html.select("#waterfall tr.event")
    sql = [r for r in rows if r["data-kind"] == "sql"]
    assert len(sql) == len(record["queries"]) == 2 + 3 * 6
    starts = [float(r["data-start-ms"]) for r in rows]
    assert starts == sorted(starts)
    flagged = [r for r in sql if "n_plus_one" in r["class"]]
    assert len(flagged) == 3 * 6  # the loop's statements, not the two listing ones
    assert all("naive.py:" in r.select_one("td.where").text for r in flagged)
    finding_hashes = {f["fingerprint_hash"] for f in record["findings"]}
    assert {r["data-fingerprint"] for r in flagged} == finding_hashes
    assert html.select_one("[data-testid=request-id]").text == "naive-1"
    assert len(html.select("#findings tbody tr[data-kind]")) == 3


def test_cache_calls_templates_and_spans_share_the_axis(traffic, staff):
    _, cold = request_page(staff, traffic.store, "cold")
    kinds = [r["data-kind"] for r in cold.select("#waterfall tr.event")]
    assert kinds.count("cache") == 2 and kinds.count("sql") == 1
    for row in cold.select("#waterfall tr.event[data-kind=cache]"):  # each with its call site
        assert "perflab/demo/views.py:" in row.select_one("td.where").text
    _, templated = request_page(staff, traffic.store, "templated")
    rows = {r["data-kind"]: r for r in templated.select("#waterfall tr.event")}
    assert set(rows) == {"template", "span"}
    for row in rows.values():
        bar = row.select_one("span.bar")
        assert bar is not None and "left:" in bar["style"]
    assert float(rows["template"]["data-start-ms"]) >= 0


def test_headers_as_stored_and_the_profile(traffic, staff):
    record, html = request_page(staff, traffic.store, "templated")
    headers = {th.text: td.text for th, td in
               ((tr.th, tr.td) for tr in html.select("#headers tr") if tr.th)}  # fmt: skip
    assert headers == record["headers"]
    link = html.select_one("[data-testid=profile-link]")["href"]
    profile = staff.get(link)
    assert profile.status_code == 200
    assert b"pyinstrumentHTMLRenderer.render" in profile.content
    assert b"<script src=" not in profile.content  # its JavaScript is inlined
    # ... its one outside request (a web font from Google's servers) is taken out, and the
    # policy would refuse any other.
    assert b"fonts.googleapis.com" not in profile.content
    assert b'"data:text/css,"' in profile.content
    assert profile["Content-Security-Policy"].startswith("default-src 'none';")
    assert profile["Cache-Control"] == "private, no-store"
    _, unprofiled = request_page(staff, traffic.store, "list")
    assert unprofiled.select_one("[data-testid=profile-link]") is None


def test_the_run_a_request_came_from(make_probe, staff, db):
    recording = make_probe()
    store = recording.store
    now = time.time()
    store.save_run(RunRow(run_id="pl-1a2b", started=now - 60, ended=None, host="http://127.0.0.1",
                          status="running", verdict=None, requests=0, failures=0, p95_ms=None,
                          out_dir=None, report=None, request_id_prefix="pl-1a2b-",
                          command="perflab run"))  # fmt: skip
    Client().get("/api/posts/", HTTP_X_REQUEST_ID="pl-1a2b-0001")
    Client().get("/api/posts/", HTTP_X_REQUEST_ID="other")
    flushed(recording)
    _, html = request_page(staff, store, "pl-1a2b-0001")
    run = html.select_one("[data-testid=request-run] a")
    assert run.text == "pl-1a2b" and run["href"] == "/perf/?run=pl-1a2b"
    _, other = request_page(staff, store, "other")
    assert other.select_one("[data-testid=request-run] a") is None
