"""Hostile values to every query parameter of every dashboard page: never a 500, a one-line
400 page naming the parameter exactly for what is not valid, and nothing else for what is.

The same values as the API's sweep (tests/probe/test_api_fuzz.py); the oracle is the
dashboard's documented parameters (README's Dashboard table, the contract's URL map)."""

import re
from urllib.parse import quote

import pytest
from django.http import QueryDict

from perflab.dashboard import overview, route, search, sql
from perflab.dashboard.period import RANGES
from tests.dashboard.conftest import message
from tests.probe.test_api_fuzz import HOSTILE, RAW, choice, text

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]

RUN_ID = text(200, r"[A-Za-z0-9_.:-]+")
PERIOD = {"range": choice(*RANGES), "run": RUN_ID}
ROUTE_PAGE = "/perf/route/?method=GET&route=api/posts/&"
# page (with the valid values it needs besides the one swept) -> parameter -> valid?
PAGES = {
    "/perf/?": (overview.OVERVIEW_QUERY, {
        **PERIOD, "sort": choice(*overview.SORT_KEYS), "dir": choice("asc", "desc"),
        "q": text(200),
    }),
    ROUTE_PAGE: (route.ROUTE_QUERY, {
        **PERIOD, "method": text(20, "[A-Z]+"), "route": text(1000),
    }),
    "/perf/sql/?": (sql.SQL_QUERY, {**PERIOD, "route": text(1000)}),
    "/perf/search/?": (search.SEARCH_QUERY, {**PERIOD, "q": text(1000)}),
}  # fmt: skip
REQUIRED = {ROUTE_PAGE: {"method", "route"}}  # empty is not "not given" for these


def test_the_table_covers_every_parameter():
    for declared, oracle in PAGES.values():
        assert set(declared.kinds) == set(oracle)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_query_parameter(traffic, staff, page):
    failures: list[str] = []
    _, oracle = PAGES[page]
    for name, valid in oracle.items():
        sent = [(quote(value, safe=""), value) for value in HOSTILE]
        sent += [(raw, QueryDict(f"x={raw}")["x"]) for raw in RAW]
        for encoded, value in sent:
            url = re.sub(rf"(?<=[?&]){name}=[^&]*&", "", page) + f"{name}={encoded}"
            response = staff.get(url)
            status, what = response.status_code, f"{url[:80]} -> {response.status_code}"
            required = name in REQUIRED.get(page, ())
            bad = (value == "" and required) or (value != "" and not valid(value))
            if status >= 500 or (status == 400) != bad:
                failures.append(what)
            elif status == 400 and (name not in message(response) or "\n" in message(response)):
                failures.append(f"{what}: {message(response)!r}")
    assert not failures, "\n".join(failures)


def test_path_values(traffic, staff):
    failures = []
    for value in HOSTILE:
        response = staff.get("/perf/sql/" + quote(value, safe="") + "/")
        hexadecimal = re.fullmatch("[0-9a-f]{1,64}", value)
        # not hex: a 400 (or Django's 404 when no pattern takes it: "", a "/"); hex: unknown
        if response.status_code not in ((404,) if hexadecimal else (400, 404)):
            failures.append(f"sql/{value[:40]!r}/ -> {response.status_code}")
        response = staff.get("/perf/runs/" + quote(value, safe="") + "/report/")
        if response.status_code not in (400, 404):
            failures.append(f"runs/{value[:40]!r}/report/ -> {response.status_code}")
    assert not failures, "\n".join(failures)
