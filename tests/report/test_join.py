"""The one client↔server join (``perflab.report.join``), as the report and compare use it.

The join itself is a function of plain values; the last tests run it through both readers
over a real run directory and a real probe store, so the two cannot drift apart again.
"""

from __future__ import annotations

from perflab.probe.store import RecordingStore
from perflab.report.compare.server import read_server_side
from perflab.report.data import ReportData
from perflab.report.join import JOIN_SAMPLE, NAME, REQUEST_ID, join_routes, sampled_ids
from perflab.report.render import render_html
from tests.report.test_report import START, endpoint, record, write_run

ROUTES = {("GET", "api/posts/"), ("GET", "api/posts/<pk>/"), ("GET", "wagtail_serve[BlogPage]"),
          ("GET", "wagtail_serve[HomePage]")}  # fmt: skip
SERVED = {"p1": ("GET", "api/posts/<pk>/"), "p2": ("GET", "api/posts/<pk>/"),
          "l1": ("GET", "api/posts/"), "gone": ("GET", "api/old/")}  # fmt: skip


def join(*names: str, sample=None):
    endpoints = [("GET", name) for name in names]
    return join_routes(endpoints, ROUTES, sample or {}, SERVED.get)


def test_a_name_grouped_by_route_is_that_route_query_keys_and_slash_aside():
    joined = join("/api/posts/<pk>/", "/api/posts/?page=…&search=…")
    assert joined.routes == {
        ("GET", "/api/posts/<pk>/"): ("GET", "api/posts/<pk>/"),
        ("GET", "/api/posts/?page=…&search=…"): ("GET", "api/posts/"),
    }
    assert set(joined.matched_by.values()) == {NAME} and not joined.unmatched


def test_a_catch_all_split_by_page_type_is_joined_by_its_served_name():
    joined = join("wagtail_serve[BlogPage]", "wagtail_serve[HomePage]?page=…")
    assert joined.route_for("GET", "wagtail_serve[BlogPage]") == ("GET", "wagtail_serve[BlogPage]")
    assert joined.route_for("GET", "wagtail_serve[HomePage]?page=…") == (
        "GET", "wagtail_serve[HomePage]",
    )  # fmt: skip
    assert joined.route_for("GET", "wagtail_serve[EventPage]") is None  # not served in the run


def test_a_name_the_locustfile_chose_is_joined_by_the_route_its_requests_were_served_by():
    joined = join("read post", sample={("GET", "read post"): ["p1", "p2", "unknown"]})
    assert joined.route_for("GET", "read post") == ("GET", "api/posts/<pk>/")
    assert joined.matched_by[("GET", "read post")] == REQUEST_ID


def test_a_name_whose_requests_hit_several_routes_is_not_joined_whatever_the_majority():
    sample = {("GET", "browse"): ["p1", "p2", "l1"]}  # two to one: no vote decides it
    joined = join("browse", sample=sample)
    assert joined.route_for("GET", "browse") is None
    assert joined.unmatched[("GET", "browse")] == (
        "its requests went to several routes (GET api/posts/, GET api/posts/<pk>/)"
    )


def test_what_cannot_be_joined_says_why():
    joined = join("a", "b", "c", sample={("GET", "b"): ["x", "y"], ("GET", "c"): ["gone"]})
    assert joined.unmatched == {
        ("GET", "a"): "no route of that name in the run's minutes, no sampled request ids",
        ("GET", "b"): "its request ids are not in the store",
        ("GET", "c"): "its route GET api/old/ has no figures in the run",
    }
    assert join_routes([("", "Aggregated")], ROUTES, {}, SERVED.get).unmatched == {}  # totals


def test_the_sample_keeps_the_first_ids_per_endpoint_and_skips_rows_without_one():
    rows = [{"request_id": f"r{n}", "method": "GET", "name": "a"} for n in range(50)]
    rows += [{"request_id": "", "method": "GET", "name": "b"}]
    ids = sampled_ids(rows)
    assert ids == {("GET", "a"): [f"r{n}" for n in range(JOIN_SAMPLE)]}


def test_report_and_compare_join_a_run_the_same_way(tmp_path):
    store_path = tmp_path / "probe.sqlite3"
    store = RecordingStore.at_path(store_path)
    store.write([record("a1", "api/posts/<pk>/", 10.0), record("b1", "api/posts/<int:pk>/", 30.0),
                 record("m1", "api/posts/<pk>/", 10.0), record("m2", "api/posts/<int:pk>/", 9.0),
                 record("m3", "api/posts/<pk>/", 11.0)])  # fmt: skip
    client = [("a1", "GET", "/api/posts/<pk>/", START + 2, 14.0, 14.0, ""),
              ("b1", "GET", "/api/posts/[id]/", START + 3, 40.0, 40.0, ""),
              ("m1", "GET", "mixed", START + 4, 15.0, 15.0, ""),
              ("m2", "GET", "mixed", START + 5, 15.0, 15.0, ""),
              ("m3", "GET", "mixed", START + 6, 15.0, 15.0, "")]  # fmt: skip
    endpoints = [endpoint("GET", "/api/posts/<pk>/", 60, 12.0),
                 endpoint("GET", "/api/posts/[id]/", 40, 20.0),
                 endpoint("GET", "mixed", 3, 15.0)]  # fmt: skip
    run = write_run(tmp_path / "run", client, store=store_path, endpoints=endpoints)
    data = ReportData(run)
    side = read_server_side(data.results, store_path, run)
    assert (
        data.route_join.routes
        == side.endpoint_routes
        == {
            ("GET", "/api/posts/<pk>/"): ("GET", "api/posts/<pk>/"),
            ("GET", "/api/posts/[id]/"): ("GET", "api/posts/<int:pk>/"),
        }
    )
    assert data.route_join.matched_by == side.matched_by
    assert data.route_join.unmatched == side.unmatched
    assert "several routes" in side.unmatched[("GET", "mixed")]
    assert data.server_for("GET", "mixed") is None
    html = render_html(data)
    assert "no server figures: its requests went to several routes" in html


def test_without_a_probe_store_nothing_is_joined_and_the_report_says_why(tmp_path):
    run = write_run(tmp_path / "run", [("x", "GET", "/api/posts/<pk>/", START, 9.0, 9.0, "")])
    data = ReportData(run)
    assert data.route_join.routes == {} and data.server_for("GET", "/api/posts/<pk>/") is None
    assert "no probe store" in render_html(data)
