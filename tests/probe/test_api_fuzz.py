"""Hostile input to every parameter of every API endpoint, to its path ids and to the explain
body: never a 500, and a 400 with a one-line JSON ``error`` exactly for what is not valid.

A generated table: every hostile value below is sent to every query parameter, and an oracle
written from the API's documented contract (not from its code) says whether the value is
valid there. The test client re-raises any exception a view lets out, so a 500 fails the
test with its traceback.
"""

import json
import math
import re
from urllib.parse import quote

import pytest
from django.core import signing
from django.http import QueryDict
from django.test import Client
from django.urls import get_resolver

from perflab.api import views
from perflab.api.explain import SALT
from tests.demo.conftest import make_posts, make_user
from tests.probe.conftest import flushed
from tests.probe.test_api import browser, sessions, staff  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]

MAX_INT = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# Values as a client means them (sent percent-encoded as UTF-8).
HOSTILE = [
    "", " ", "0", "1", "5", "50", "200", "404", "599", "600", "999", "1000", "1001", "-0",
    "-1", "-5", "+7", "00012", "1.5", "-0.5", ".5", "5.", "1e3", "1E-3", "-1e3", "1e11",
    "1e12", "1e13", "1e309", "-1e309", "1e-400", "nan", "NaN", "inf", "-inf", "Infinity",
    str(MAX_INT), str(MAX_INT + 1), str(-MAX_INT - 2), str(2**64), "9" * 30, "1" * 5000,
    "1_000", " 5", "5 ", "5\t", "\t", "0x10", "0b1", "1,5", "١٢", "\uff10", "½", "²",
    "abc", "GET", "get", "G E T", "recent", "slowest", "SLOWEST", "n_plus_one", "duplicate",
    "api/posts/", "api/posts/<pk>/", "é", "🚀", "ü" * 1001, "x" * 10_000, "\x00", "5\x00",
    "a\x00b", "\n", "1\r\n", "\x7f", "\x85", "null", "true", "[]", "{}", "'", '"', ";", "%",
    "../../etc/passwd", "' OR 1=1 --",
]  # fmt: skip
# Raw query-string text (bytes that are not UTF-8, broken escapes): what the server decodes.
RAW = ["%FF", "%ED%A0%80", "%C0%80", "%00", "%", "%zz", "1%00", "%E2%80%AE", "a%2Fb"]


# What each parameter accepts: the API's contract, as README's API table documents it.
def integer(minimum: int, maximum: int = MAX_INT):
    def valid(value: str) -> bool:
        digits = re.fullmatch(r"[+-]?[0-9]{1,30}", value)
        return bool(digits) and minimum <= int(value) <= maximum

    return valid


def number(minimum: float, maximum: float):
    pattern = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?"

    def valid(value: str) -> bool:
        if len(value) > 40 or not re.fullmatch(pattern, value):
            return False
        parsed = float(value)
        return math.isfinite(parsed) and minimum <= parsed <= maximum

    return valid


def text(max_length: int, pattern: str = r".*"):
    def valid(value: str) -> bool:
        fits = len(value) <= max_length and not _CONTROL.search(value)
        return fits and re.fullmatch(pattern, value, re.DOTALL) is not None

    return valid


def choice(*choices: str):
    return lambda value: value in choices


SINCE = number(0, 1e11)
LIMIT = integer(1, 1000)
WINDOW = {"minutes": number(0, 1e8), "since": SINCE, "until": SINCE}  # every listing's
QUERY_PARAMETERS = {
    "routes/": WINDOW,
    "requests/": {
        **WINDOW,
        "route": text(1000),
        "method": text(20, r"[A-Za-z]+"),
        "status": integer(100, 599),
        "min_ms": number(0, 1e12),
        "findings": choice("0", "1"),
        "order": choice("recent", "slowest"),
        "limit": LIMIT,
        "offset": integer(0),
    },
    "sql/": {**WINDOW, "route": text(1000), "limit": LIMIT},
    "findings/": {
        **WINDOW,
        "kind": choice("n_plus_one", "duplicate"),
        "route": text(1000),
        "limit": LIMIT,
    },
}
DECLARED = {
    "routes/": views.ROUTES_QUERY,
    "requests/": views.REQUESTS_QUERY,
    "sql/": views.SQL_QUERY,
    "findings/": views.FINDINGS_QUERY,
}
# Endpoints that take no query parameters: anything sent is ignored (a PERMISSION callable
# may read its own), so every value must still answer 200.
NO_QUERY = ["status/", "urlpatterns/"]


@pytest.fixture
def stored(probe, db):
    """A few recorded requests, so that filters and ids reach real rows."""
    make_posts(make_user("author"), 3)
    for n in range(2):
        Client().get("/api/posts/", HTTP_X_REQUEST_ID=f"list-{n}")
    return flushed(probe)


def _assert_answer(response, expected_status: int | None, what: str, failures: list) -> None:
    """No 500; a 400 is JSON with a one-line error; the status the contract says."""
    status = response.status_code
    if status >= 500:
        failures.append(f"{what}: {status}")
        return
    if status == 400:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError):
            failures.append(f"{what}: a 400 without a JSON error: {response.content[:200]!r}")
            return
        if not isinstance(error, str) or not error or "\n" in error:
            failures.append(f"{what}: not a one-line message: {error!r}")
    if expected_status is not None and status != expected_status:
        body = response.content[:200]
        failures.append(f"{what}: {status}, expected {expected_status}: {body!r}")


def test_the_table_covers_every_endpoint_and_parameter():
    """A parameter or endpoint added to the API without a row here fails this test."""
    for endpoint, parameters in DECLARED.items():
        assert set(parameters.kinds) == set(QUERY_PARAMETERS[endpoint]), endpoint
    patterns = get_resolver("perflab.urls").url_patterns
    routes = {str(p.pattern) for p in patterns if str(p.pattern).startswith("api/")}
    fuzzed = {f"api/{e}" for e in [*QUERY_PARAMETERS, *NO_QUERY]} | {
        "api/requests/<int:row_id>/",
        "api/requests/<int:row_id>/profile/",
        "api/request-id/<str:request_id>/",
        "api/explain/",
    }
    assert routes == fuzzed


@pytest.mark.parametrize("endpoint", sorted(QUERY_PARAMETERS))
def test_every_query_parameter(stored, staff, endpoint):  # noqa: F811
    failures: list[str] = []
    for name, valid in QUERY_PARAMETERS[endpoint].items():
        sent = [(quote(value, safe=""), value) for value in HOSTILE]
        sent += [(raw, QueryDict(f"x={raw}")["x"]) for raw in RAW]
        for encoded, value in sent:
            response = staff.get(f"/perf/api/{endpoint}?{name}={encoded}")
            expected = 200 if value == "" or valid(value) else 400
            _assert_answer(response, expected, f"{endpoint}?{name}={encoded[:60]}", failures)
            if response.status_code == 400:
                assert name in response.json()["error"]
        twice = staff.get(f"/perf/api/{endpoint}?{name}=1&{name}=1")
        _assert_answer(twice, 400, f"{endpoint}?{name} twice", failures)
    too_many = "&".join(f"p{n}=1" for n in range(1100))  # past DATA_UPLOAD_MAX_NUMBER_FIELDS
    _assert_answer(staff.get(f"/perf/api/{endpoint}?{too_many}"), 400, "1100 fields", failures)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("endpoint", NO_QUERY)
def test_endpoints_without_parameters_ignore_any(stored, staff, endpoint):  # noqa: F811
    failures: list[str] = []
    for value in HOSTILE[::7]:
        response = staff.get(f"/perf/api/{endpoint}?limit={quote(value, safe='')}&x=%00")
        _assert_answer(response, 200, f"{endpoint}?limit={value[:40]!r}", failures)
    assert not failures, "\n".join(failures)


def test_path_ids(stored, staff):  # noqa: F811
    row = stored.request(request_id="list-0")["id"]
    failures: list[str] = []
    for template in ("requests/{}/", "requests/{}/profile/"):
        for value in [*HOSTILE, str(row)]:
            digits = re.fullmatch(r"[0-9]+", value) and len(value) <= 4300
            # Not digits: no URL pattern matches (Django's 404). Digits: an id, or a 400.
            expected = None if digits else 404
            if digits and not 1 <= int(value) <= MAX_INT:
                expected = 400
            path = "/perf/api/" + template.format(quote(value, safe=""))
            _assert_answer(staff.get(path), expected, path[:80], failures)
    for value in [*HOSTILE, *RAW]:
        encoded = value if value in RAW else quote(value, safe="")
        response = staff.get(f"/perf/api/request-id/{encoded}/")
        expected = 400 if value and (len(value) > 128 or _CONTROL.search(value)) else None
        _assert_answer(response, expected, f"request-id/{encoded[:60]}/", failures)
    assert staff.get("/perf/api/request-id/list-1/").status_code == 200
    assert staff.get(f"/perf/api/requests/{row}/").status_code == 200
    assert not failures, "\n".join(failures)


def _signed(payload, **options) -> str:
    return signing.dumps(payload, salt=SALT, **options)


def _explain_bodies(real_id: str, row: int) -> list[tuple[str, bytes, str]]:
    """(what, body, content type): every one of them is not a valid explain request."""
    as_json = "application/json"

    def body(document) -> bytes:
        return json.dumps(document).encode()

    wrong_ids = [
        ("unsigned", "[1, 0]"),
        ("signature flipped", real_id[:-1] + ("A" if real_id[-1] != "A" else "B")),
        ("payload changed", real_id[:1] + ("x" if real_id[1] != "x" else "y") + real_id[2:]),
        ("truncated", real_id[:-5]),
        ("extended", real_id + "x"),
        ("another salt", signing.dumps([row, 0], salt="other", compress=True)),
        ("another key", signing.dumps([row, 0], salt=SALT, key="another-secret-key-entirely")),
        ("missing row", _signed([MAX_INT, 0], compress=True)),
        ("index past the statements", _signed([row, 10**6])),
    ]
    shapes = [
        {"a": 1}, [1], [row, 0, 0], [str(row), 0], [row, "0"], [float(row), 0], [True, 0],
        [row, False], [2**63, 0], [0, 0], [-1, 0], [row, -1], [row, 2**63], None, "x", 1,
        [[row], 0], [],
    ]  # fmt: skip
    wrong_ids += [(f"signed {shape!r}", _signed(shape)) for shape in shapes]
    wrong_ids += [
        (f"signed {shape!r}, compressed", _signed(shape, compress=True)) for shape in shapes
    ]
    not_an_id = [
        "", " ", "x" * 1001, "\x00", real_id + "\x00", "\ud800", "é", "🚀", real_id + "\n",
        "a:b:c", ":::", real_id.replace(":", "/"),
    ]  # fmt: skip
    deep_array = "[" * 5000 + "]" * 5000
    deep_object = '{"a":' * 2500 + "1" + "}" * 2500
    cases = [(what, body({"explain_id": signed}), as_json) for what, signed in wrong_ids]
    cases += [(f"explain_id {v[:20]!r}", body({"explain_id": v}), as_json) for v in not_an_id]
    cases += [
        (f"explain_id {v!r}", body({"explain_id": v}), as_json)
        for v in (None, True, False, 0, 1.5, [], {}, [real_id], {"id": real_id})
    ]
    cases += [
        (f"document {v!r}", body(v), as_json)
        for v in (None, True, 0, -1.5, "x", real_id, [], [{"explain_id": real_id}], {})
    ]
    cases += [
        ("empty", b"", as_json),
        ("not JSON", b"explain_id=" + real_id.encode(), as_json),
        ("truncated JSON", b'{"explain_id": "', as_json),
        ("not UTF-8", b"\xff\xfe{}", as_json),
        ("not UTF-8 inside", b'{"explain_id": "\xff"}', as_json),
        ("1e400", b"1e400", as_json),
        ("a huge integer", b"1" * 5000, as_json),
        ("NaN", b'{"explain_id": NaN}', as_json),
        ("deep array", deep_array.encode(), as_json),
        ("deep object", deep_object.encode(), as_json),
        ("deep array past the size limit", b"[" * 100_000, as_json),
        ("huge", body({"explain_id": real_id, "pad": "x" * 3_000_000}), as_json),
        ("form", f"explain_id={real_id}".encode(), "application/x-www-form-urlencoded"),
        ("form, latin-1", b"explain_id=\xe9", "application/x-www-form-urlencoded; charset=latin-1"),
        ("multipart without a boundary", b"--x\r\n\r\n", "multipart/form-data"),
        ("multipart, broken", b"--x\r\ngarbage", "multipart/form-data; boundary=x"),
        ("text", real_id.encode(), "text/plain"),
    ]
    return cases


def test_explain_bodies(stored, staff, browser):  # noqa: F811
    row = stored.request(request_id="list-0")["id"]
    detail = staff.get(f"/perf/api/requests/{row}/").json()
    real_id = next(q["explain_id"] for q in detail["queries"] if "explain_id" in q)
    browser.get(f"/perf/api/requests/{row}/")  # a session gets its CSRF cookie here
    csrf = {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value}
    failures: list[str] = []
    cases = _explain_bodies(real_id, row)
    for what, body, content_type in cases:
        for who, client, extra in (("token", staff, {}), ("session", browser, csrf)):
            # generic: the body exactly as given (post would re-encode it to the charset)
            response = client.generic(
                "POST", "/perf/api/explain/", body, content_type=content_type, **extra
            )
            _assert_answer(response, 400, f"{who}: {what}", failures)
    for who, client, extra in (("token", staff, {}), ("session", browser, csrf)):
        response = client.post(
            "/perf/api/explain/",
            json.dumps({"explain_id": real_id}),
            content_type="application/json",
            **extra,
        )
        _assert_answer(response, 200, f"{who}: the real id", failures)
    assert not failures, "\n".join(failures)
    assert len(cases) > 60


@pytest.mark.parametrize(
    "path", ["routes/", "requests/", "requests/1/", "sql/", "findings/", "status/", "explain/"]
)
def test_wrong_methods_are_405(stored, staff, path):  # noqa: F811
    methods = ("put", "patch", "delete") if path != "explain/" else ("get", "put", "delete")
    for method in methods:
        assert getattr(staff, method)(f"/perf/api/{path}").status_code == 405
