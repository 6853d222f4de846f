"""The /perf/ dashboard in a real headless Chromium (Playwright driving Debian's ``chromium``; no
browser download) against the reference app under gunicorn with its probe, its store filled by
real ``perflab run`` traffic: a staff user logs in through the login form and follows overview →
route → request → SQL → statement → EXPLAIN; the routes table sorted and filtered; the figures
shown equal to what the store says (read-only); the overview updating itself during a run;
anonymous users sent to the login page and non-staff users refused, assets included.

The browser reaches 127.0.0.1 only (every other host aborted and recorded), and every page must
load without a console error or a failed load. Full-page screenshots of each page go to
test-artifacts/dashboard/ (kept by CI).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from perflab.demo.staff import LOGIN_PATH
from tests.integration.conftest import seed_blog, server_for, wait_for
from tests.integration.dashboard_site import LOCUSTFILE, Guard, Site, make_users, shot

# serial: the statement it explains is the SELECT slowest in total time, which load changes.
pytestmark = [pytest.mark.integration, pytest.mark.serial]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The reference app with its probe under gunicorn, a staff user, a user who is not staff,
    and a few seconds of the demo's users recorded in the probe's store."""
    directory = tmp_path_factory.mktemp("dashboard")
    seeded = seed_blog(directory, posts=200, users=10)
    staff, plain = make_users(seeded[0], directory)
    locustfile = directory / "users.py"
    locustfile.write_text(LOCUSTFILE)
    # every request profiled (perflab's signal sampler: cheap), so the request page links one
    with server_for(seeded, directory, workers=2, PERFLAB_PROBE="profile-all") as server:
        served = Site(server, directory, staff, plain, locustfile)
        served.load(4, directory / "first-run", "--report")
        served.settled()
        yield served


@pytest.fixture
def guarded(browser):
    """``guarded()``: a new browser context (its own cookies) and the Guard watching it; each
    closed at the end of the test."""
    contexts = []

    def open_context() -> tuple[object, Guard]:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        guard = Guard()
        guard.attach(context)
        return context, guard

    yield open_context
    for context in contexts:
        context.close()


def log_in(page, site: Site, who: tuple[str, str]) -> None:
    """Through the login form Django's redirect leads to, as a person would."""
    page.goto(site.url + "/perf/")
    assert page.url.startswith(site.url + LOGIN_PATH + "?next="), page.url
    page.fill("input[name=username]", who[0])
    page.fill("input[name=password]", who[1])
    with page.expect_navigation():
        page.click("form [type=submit]")


def protected_paths(site: Site) -> dict[str, str]:
    """Every dashboard URL (one of each page, with real ids from the store) and an asset."""
    store = site.reader()
    route = store.routes()[0]
    request = store.requests(limit=1)[0]
    statement = store.sql(limit=1)[0]
    run = store.runs(limit=1)[0]
    query = urlencode({"method": route["method"], "route": route["route"], "range": "1h"})
    return {
        "overview": "/perf/",
        "route": f"/perf/route/?{query}",
        "request": f"/perf/requests/{request['id']}/",
        "profile": f"/perf/requests/{request['id']}/profile/",
        "sql": "/perf/sql/?range=1h",
        "statement": f"/perf/sql/{statement['fingerprint_hash']}/",
        "runs": "/perf/runs/",
        "run report": f"/perf/runs/{quote(run['run_id'])}/report/",
        "search": f"/perf/search/?q={quote(request['request_id'])}",
        "asset": "/perf/assets/uPlot.iife.min.js",
    }


def data_in(body: str, site: Site) -> list[str]:
    """Recorded facts a refused response must not hold."""
    store = site.reader()
    facts = [r["route"] for r in store.routes()] + [
        r["request_id"] for r in store.requests(limit=5)
    ]
    return [fact for fact in facts if fact in body]


def test_anonymous_users_are_sent_to_the_login_page_for_every_page_and_asset(site, guarded):
    for name, path in protected_paths(site).items():
        status, headers, body = site.get(path)
        assert status == 302, (name, status)
        assert headers["Location"] == f"{LOGIN_PATH}?next={quote(path, safe='/')}", name
        assert not data_in(body, site), name

    context, guard = guarded()
    page = context.new_page()
    page.goto(site.url + "/perf/")
    assert page.url == f"{site.url}{LOGIN_PATH}?next=/perf/"
    assert page.locator("input[name=password]").is_visible()
    shot(page, "login")
    assert not guard.problems(), guard.problems()


def test_a_logged_in_user_who_is_not_staff_is_refused_pages_and_assets(site, guarded):
    context, guard = guarded()
    page = context.new_page()
    log_in(page, site, site.plain)
    assert page.url == site.url + "/perf/"
    assert page.locator("[data-testid=message]").inner_text() == "The dashboard is for staff only."
    assert not data_in(page.content(), site)
    shot(page, "forbidden")
    # the refusal itself is the one failed load: its page asks for nothing it is refused
    assert guard.failed == [f"{site.url}/perf/: HTTP 403"], guard.failed
    for name, path in protected_paths(site).items():
        response = context.request.get(site.url + path, max_redirects=0)
        assert response.status == 403, (name, response.status)
        assert not data_in(response.text(), site), name
    assert not guard.blocked and not guard.page_errors, guard.problems()


def charts_drawn(page, *ids: str) -> None:
    """uPlot drew each chart (the dashboard's script marks it ``data-drawn="1"``). Selectors,
    not ``wait_for_function``: the pages' CSP (no 'unsafe-eval') may refuse its predicate."""
    for chart in ids:
        page.wait_for_selector(f'#{chart}[data-drawn="1"]', state="attached", timeout=10_000)


def figure(page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def number(text: str) -> float:
    """A figure as the pages print it (``1,234``, ``12.3 ms``, ``4.5%``) as a number."""
    return float(text.replace(",", "").split()[0].rstrip("%"))


def test_staff_follow_overview_route_request_sql_statement_and_explain(site, guarded):
    context, guard = guarded()
    page = context.new_page()
    log_in(page, site, site.staff)
    assert page.url == site.url + "/perf/"
    response = page.reload()
    assert response.headers["cache-control"] == "private, no-store"
    charts_drawn(page, "latency-chart", "throughput-chart")
    assert page.locator("section#health [data-testid=health-enabled]").inner_text() == "on"
    shot(page, "overview")

    # overview → the reference app's deliberate N+1
    naive = page.locator('table#routes tr[data-method=GET][data-route="api/authors/naive/"]')
    assert naive.locator(".badge.n_plus_one").count() == 1
    naive.locator("td.route a").click()
    page.wait_for_load_state()
    assert figure(page, "[data-testid=route-name]") == "api/authors/naive/"
    charts_drawn(page, "latency-chart", "throughput-chart", "query-count-chart")
    stored_route = next(
        r
        for r in site.reader().routes()
        if (r["method"], r["route"]) == ("GET", "api/authors/naive/")
    )
    assert number(figure(page, "dd[data-figure=count]")) == stored_route["count"]
    for p in ("p50_ms", "p95_ms", "p99_ms"):  # as printed: three significant figures
        assert number(figure(page, f"dd[data-figure={p}]")) == pytest.approx(
            stored_route[p], rel=0.01
        )
    assert page.locator("table#findings tr[data-kind=n_plus_one]").count() >= 1
    shot(page, "route")

    # route → its slowest request: the waterfall holds every statement the store holds
    slowest = page.locator("table[data-testid=requests] tr[data-request-id]").first
    request_id = slowest.get_attribute("data-request-id")
    slowest.locator("a").click()
    page.wait_for_load_state()
    assert figure(page, "[data-testid=request-id]") == request_id
    stored = site.reader().request(request_id=request_id)
    statements = page.locator("table#waterfall tr.event[data-kind=sql]")
    assert statements.count() == stored["query_count"] == len(stored["queries"]) > 10
    assert number(figure(page, "dd[data-figure=query_count]")) == stored["query_count"]
    assert page.locator("table#waterfall tr.event.n_plus_one").count() >= 5
    assert page.locator("table#waterfall span.bar.sql").count() == stored["query_count"]
    run = site.reader().run_of_request(request_id)
    assert figure(page, "[data-testid=request-run] a") == run["run_id"]
    assert request_id.startswith(run["request_id_prefix"])
    shot(page, "request")

    # its profile, drawn by pyinstrument's own renderer
    page.click("a[data-testid=profile-link]")
    page.wait_for_load_state("networkidle")
    assert page.url == f"{site.url}/perf/requests/{stored['id']}/profile/"
    # pyinstrument's page drew the call tree: the naive serializer's methods, where they run
    page.get_by_text("perflab/demo/naive.py").first.wait_for(timeout=10_000)
    shot(page, "profile")
    page.go_back()

    # SQL: fingerprints by total time
    page.click("[data-testid=nav-sql]")
    page.wait_for_load_state()
    totals = [
        float(v)
        for v in page.locator(
            "table#statements tr[data-fingerprint] td[data-value]:nth-child(2)"
        ).evaluate_all("cells => cells.map(c => c.dataset.value)")
    ]
    assert len(totals) >= 5 and totals == sorted(totals, reverse=True)
    shot(page, "sql")

    # → the slowest SELECT's page, and its EXPLAIN
    select = page.locator("table#statements tr[data-fingerprint]", has_text="SELECT").first
    fingerprint_hash = select.get_attribute("data-fingerprint")
    select.locator("td.sql a").click()
    page.wait_for_load_state()
    listed = {s["fingerprint_hash"]: s for s in site.reader().sql(limit=500)}
    assert figure(page, "[data-testid=fingerprint]") == listed[fingerprint_hash]["fingerprint"]
    assert page.locator("table#statement-routes tr[data-route]").count() >= 1
    shot(page, "statement")
    with page.expect_request(lambda r: r.method == "POST") as posted:
        page.click("[data-testid=explain-button]")
    page.wait_for_load_state()
    form = dict(parse_qsl(posted.value.post_data))
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    assert len(form["csrfmiddlewaretoken"]) == 64 and len(cookie) == 32  # masked token, secret
    plan = page.locator("#plan[data-vendor=sqlite] pre")
    assert plan.inner_text().strip(), "an empty plan"
    assert page.locator("[data-testid=explain-error]").count() == 0
    shot(page, "explain")
    # the same POST without Django's token is refused
    refused = context.request.post(page.url, form={"explain_id": form["explain_id"]})
    assert refused.status == 403

    assert not guard.problems(), guard.problems()


ROUTE_ROWS = """rows => rows.map(tr => {
    const values = [...tr.querySelectorAll('td[data-value]')].map(td => Number(td.dataset.value));
    return {method: tr.dataset.method, route: tr.dataset.route, count: values[0],
            p50: values[1], p95: values[2], p99: values[3]};
})"""


def route_rows(page) -> list[dict]:
    """The overview's routes table as shown: method, route, count, p50/p95/p99 (ms)."""
    return page.locator("table#routes tbody tr[data-route]").evaluate_all(ROUTE_ROWS)


def staff_page(site: Site, guarded) -> tuple[object, Guard]:
    """A page logged in as the staff user, and its context's Guard."""
    context, guard = guarded()
    page = context.new_page()
    log_in(page, site, site.staff)
    return page, guard


def test_the_routes_table_sorts_by_a_column_and_filters_by_route_name(site, guarded):
    page, guard = staff_page(site, guarded)
    table = page.locator("table#routes")
    # a column's first click sorts descending, the next one ascending
    for key, direction in (("p95", "desc"), ("p95", "asc"), ("count", "desc")):
        with page.expect_navigation():
            page.click(f"table#routes th[data-sort={key}] a")
        assert table.get_attribute("data-sort") == key
        assert table.get_attribute("data-dir") == direction
        assert table.locator(f"th[data-sort={key}]").get_attribute("aria-sort") == (
            "descending" if direction == "desc" else "ascending"
        )
        shown = [row[key] for row in route_rows(page)]
        assert len(shown) >= 5
        assert shown == sorted(shown, reverse=direction == "desc"), (key, direction, shown)
    shot(page, "overview-sorted")

    page.fill("input[data-testid=route-filter]", "authors")
    with page.expect_navigation():
        page.press("input[data-testid=route-filter]", "Enter")
    shown = route_rows(page)
    stored = [r for r in site.reader().routes() if "authors" in r["route"]]
    assert 1 <= len(shown) < len(site.reader().routes())
    assert {(r["method"], r["route"]) for r in shown} == {(r["method"], r["route"]) for r in stored}
    counts = [row["count"] for row in shown]
    assert counts == sorted(counts, reverse=True)  # the filter keeps the sort
    assert "q=authors" in page.url
    shot(page, "overview-filtered")
    assert not guard.problems(), guard.problems()


def same_as_stored(page, stored: Callable[[], list[dict]]) -> None:
    """The routes table shows each route's count and percentiles as ``stored()`` reads them,
    the store unchanged while the page was read."""
    before = {(r["method"], r["route"]): r for r in stored()}
    shown = {(row["method"], row["route"]): row for row in route_rows(page)}
    assert {(r["method"], r["route"]): r for r in stored()} == before, "the store changed"
    assert set(shown) == set(before)
    for key, row in shown.items():
        assert row["count"] == before[key]["count"], key
        for p in ("p50", "p95", "p99"):
            assert row[p] == pytest.approx(before[key][f"{p}_ms"]), (key, p)


def test_the_overview_shows_what_the_store_holds_for_a_range_and_for_a_run(site, guarded):
    """The last 15 minutes and 7 days (each holding all of this test's traffic) and the
    fixture's run, each compared with StoreReader.routes over the same window."""
    from perflab.probe.store.reader import Window

    page, guard = staff_page(site, guarded)
    site.settled()
    # a short range (minute rollups) and the longest (hourly rollups, partial hours by minute)
    for name, minutes in (("15m", 15), ("7d", 7 * 24 * 60)):
        with page.expect_navigation():
            page.click(f'[data-testid=period] a[data-range="{name}"]')
        assert page.locator('[data-testid=period] a[aria-current="true"]').inner_text() == name
        same_as_stored(
            page, lambda minutes=minutes: site.reader().routes(Window.last_minutes(minutes))
        )

    run = site.reader().runs()[-1]  # the fixture's, before any other traffic
    page.select_option("select[data-testid=run-picker]", run["run_id"])
    with page.expect_navigation():
        page.click("form.runs-picker [type=submit]")
    assert f"run {run['run_id']}" in figure(page, "[data-testid=period-run]")
    same_as_stored(page, lambda: site.reader().routes(Window(run["started"], run["ended"])))
    assert not guard.problems(), guard.problems()


API_KEY = "a-secret-api-key-1234"


def test_a_cached_route_shows_its_hit_rate_and_a_request_its_cache_calls_and_masked_headers(
    site, guarded
):
    # requests of our own: the reference app serves categories from its cache (a miss, then
    # hits), with a header the probe must mask before storing
    for _ in range(4):
        assert site.get("/api/categories/", headers={"X-Api-Key": API_KEY})[0] == 200
    site.settled()
    page, guard = staff_page(site, guarded)
    stored_route = next(r for r in site.reader().routes() if r["route"] == "api/categories/")
    assert 0 < stored_route["cache_hit_rate"] < 1
    cell = page.locator('table#routes tr[data-route="api/categories/"] td:nth-child(10)')
    assert number(cell.inner_text()) == pytest.approx(
        100 * stored_route["cache_hit_rate"], abs=0.05
    )

    newest = site.reader().requests(route="api/categories/", limit=1)[0]
    stored = site.reader().request(row_id=newest["id"])
    page.goto(f"{site.url}/perf/requests/{newest['id']}/")
    cache_calls = page.locator("table#waterfall tr.event[data-kind=cache]")
    assert cache_calls.count() == len(stored["cache"]) >= 1
    assert stored["headers"]["x-api-key"] != API_KEY
    shown = page.locator("table#headers tr", has=page.locator("th", has_text="x-api-key"))
    assert shown.locator("td").inner_text() == stored["headers"]["x-api-key"]
    assert API_KEY not in page.content()
    shot(page, "request-cached")
    assert not guard.problems(), guard.problems()


def test_search_by_request_id_and_by_path(site, guarded):
    page, guard = staff_page(site, guarded)
    request = site.reader().requests(route="api/authors/naive/", limit=1)[0]
    search = page.locator("[data-testid=search]")
    search.fill(request["request_id"])
    with page.expect_navigation():
        search.press("Enter")
    assert page.url == f"{site.url}/perf/requests/{request['id']}/"

    page.locator("[data-testid=search]").fill("/api/authors/")
    with page.expect_navigation():
        page.locator("[data-testid=search]").press("Enter")
    paths = page.locator("table[data-testid=requests] td.path").all_inner_texts()
    assert paths and all(p.startswith("/api/authors/") for p in paths)
    assert "/api/authors/naive/" in paths
    shot(page, "search")

    page.locator("[data-testid=search]").fill("201")  # a status: the posts the users created
    with page.expect_navigation():
        page.locator("[data-testid=search]").press("Enter")
    kind = figure(page, "[data-testid=search-kind]")
    assert "status 201" in kind
    listed = int(re.search(r"at most (\d+)", kind)[1])
    shown = page.locator("table[data-testid=requests] tr[data-request-id]")
    created = site.reader().requests(status=201, limit=1000)
    assert shown.count() == min(len(created), listed) >= 1
    assert set(shown.evaluate_all("rows => rows.map(r => r.dataset.requestId)")) <= {
        r["request_id"] for r in created
    }
    assert not guard.problems(), guard.problems()


def test_runs_are_listed_with_their_reports(site, guarded):
    page, guard = staff_page(site, guarded)
    page.click("[data-testid=nav-runs]")
    page.wait_for_load_state()
    runs = site.reader().runs()
    rows = page.locator("table#runs tr[data-run-id]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.runId)") == [
        r["run_id"] for r in runs
    ]
    first = runs[-1]  # the fixture's, with --report
    assert first["status"] == "completed" and first["requests"] > 0
    row = page.locator(f'table#runs tr[data-run-id="{first["run_id"]}"]')
    assert row.get_attribute("data-status") == "completed"
    shot(page, "runs")

    row.locator("a[data-testid=run-report]").click()
    page.wait_for_load_state()
    assert page.url == f"{site.url}/perf/runs/{first['run_id']}/report/"
    page.wait_for_load_state("networkidle")
    charts = page.locator(".chart[data-chart]")
    drawn = page.locator('.chart[data-chart][data-drawn="1"]')
    assert charts.count() >= 5 and drawn.count() == charts.count(), guard.problems()
    assert page.locator("#report-errors").inner_text().strip() == ""
    shot(page, "run-report")
    assert not guard.problems(), guard.problems()


def test_the_overview_updates_itself_during_a_run(site, guarded, tmp_path):
    page, guard = staff_page(site, guarded)
    busiest = max(route_rows(page), key=lambda row: row["count"])
    row = page.locator(
        f'table#routes tr[data-method="{busiest["method"]}"][data-route="{busiest["route"]}"]'
    )

    def shown() -> int:
        return int(row.locator("td[data-value]").first.get_attribute("data-value"))

    navigations: list[str] = []
    page.on(
        "framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url)
    )
    load = site.load(12, tmp_path / "live-run", background=True)
    try:
        first = wait_for(lambda: shown() > busiest["count"] and shown(), 40, "the count to grow")
        assert page.locator("#live").is_visible()
        assert page.locator("main#main").get_attribute("data-live") == "1"
        wait_for(lambda: shown() > first, 15, "the count to grow again")
        shot(page, "overview-live")
    finally:
        try:
            load.wait(40)
        except subprocess.TimeoutExpired:
            load.kill()
            load.wait(5)
    assert load.returncode == 0, (tmp_path / "live-run.log").read_text()[-3000:]
    assert navigations == [], "the page was reloaded, not refreshed in place"
    assert not guard.problems(), guard.problems()
