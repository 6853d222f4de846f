"""The search box: a request id goes to the request, a path lists requests by prefix, a status
lists the requests that answered it; and what requests sent is shown escaped everywhere."""

import time

import pytest
from django.test import Client

from perflab.probe.records import QueryEvent, RequestRecord, SpanEvent, TemplateEvent
from tests.dashboard.conftest import message, page
from tests.probe.conftest import flushed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]

SCRIPT = "<script>alert(1)</script>"


def listed(html) -> list[str]:
    return [
        tr["data-request-id"] for tr in html.select("[data-testid=requests] tr[data-request-id]")
    ]


def test_a_request_id_goes_to_the_request(traffic, staff):
    response = staff.get("/perf/search/?q=naive-2")
    row_id = traffic.store.request(request_id="naive-2")["id"]
    assert response.status_code == 302 and response["Location"] == f"/perf/requests/{row_id}/"
    assert staff.get("/perf/search/?q=%20naive-2%20").status_code == 302  # pasted with spaces
    missing = staff.get("/perf/search/?q=nope")
    assert missing.status_code == 404
    assert message(missing) == "no request with X-Request-ID 'nope' in this store"


def test_a_path_lists_the_requests_it_starts(traffic, staff):
    html = page(staff.get("/perf/search/?q=/api/authors/"))
    assert sorted(listed(html)) == ["naive-0", "naive-1", "naive-2"]
    everything = listed(page(staff.get("/perf/search/?q=/api/")))
    assert sorted(everything) == ["cold", "list", "naive-0", "naive-1", "naive-2", "warm"]
    assert listed(page(staff.get("/perf/search/?q=/nothing/"))) == []


def test_a_status_lists_the_requests_that_answered_it(traffic, staff):
    assert listed(page(staff.get("/perf/search/?q=500"))) == ["broken"]
    assert len(listed(page(staff.get("/perf/search/?q=200")))) == 7
    html = page(staff.get("/perf/search/?q=500"))
    assert html.select_one("[data-testid=search]")["value"] == "500"  # the box keeps it


def test_an_empty_search_explains_itself(traffic, staff):
    assert "Search by request id" in page(staff.get("/perf/search/")).text


def test_what_a_request_sent_is_escaped(make_probe, staff, db):
    recording = make_probe()
    client = Client()
    client.get(f"/api/posts/{SCRIPT}/", {"x": SCRIPT}, HTTP_X_REQUEST_ID="evil",
               HTTP_USER_AGENT=SCRIPT)  # fmt: skip
    flushed(recording)
    record = recording.store.request(request_id="evil")
    assert SCRIPT in record["path"]
    pages = [
        staff.get(f"/perf/requests/{record['id']}/"),
        staff.get("/perf/search/", {"q": "/api/posts/<script>"}),
        staff.get("/perf/", {"q": SCRIPT}),
        staff.get("/perf/search/", {"q": SCRIPT}),  # the 404 page repeats the id
    ]
    for response in pages:
        assert b"<script>alert" not in response.content
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content
    request_page = page(pages[0])
    assert request_page.select_one("[data-testid=request-path]").text == record["path"]


def test_recorded_sql_and_names_are_escaped_in_the_waterfall(make_probe, staff):
    store = make_probe().store
    sql = f"SELECT '{SCRIPT}' AS x"
    store.write([RequestRecord(
        request_id="names", method="GET", path="/n/", started=time.time(), pid=1, route="n/",
        status=200, duration_ms=5.0, templates=[TemplateEvent(SCRIPT, 1.0, 2.0)],
        spans=[SpanEvent(SCRIPT, 0.5, 1.0)],
        queries=[QueryEvent(sql=sql, fingerprint=sql, fingerprint_hash="ab", duration_ms=1.0,
                            alias="default", start_ms=1.0, callsite=f"{SCRIPT}.py:1:f")],
    )])  # fmt: skip
    row_id = store.request(request_id="names")["id"]
    response = staff.get(f"/perf/requests/{row_id}/")
    assert b"<script>alert" not in response.content
    assert response.content.count(b"&lt;script&gt;alert(1)&lt;/script&gt;") == 4
