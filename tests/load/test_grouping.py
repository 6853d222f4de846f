"""Naming requests after Django routes: bounded names whatever the URLs."""

import json
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import msgspec
import pytest

from perflab.load.grouping import RouteGrouper, fetch_app_description, route_named
from perflab.load.results import EndpointFigures
from perflab.load.slo import evaluate, parse_slo
from perflab.server import free_port

PATTERNS = [
    {"route": "api/posts/", "regex": "^api/posts/\\Z", "dynamic": False},
    {"route": "api/posts/<pk>/", "regex": "^api/posts/(?:[^/.]+)/$", "dynamic": True},
    {"route": "healthz/", "regex": "^healthz/\\Z", "dynamic": False},
]


def test_ids_collapse_to_the_route_and_query_values_are_dropped():
    grouper = RouteGrouper(PATTERNS)
    names = {grouper.name_for_url(f"/api/posts/{n}/") for n in range(1000)}
    assert names == {"/api/posts/<pk>/"}
    assert grouper.name_for_url("http://127.0.0.1:8000/api/posts/?page=3&q=x") == (
        "/api/posts/?page=…&q=…"
    )
    assert grouper.name_for_url("/healthz/") == "/healthz/"


def test_unknown_paths_keep_locusts_default_name():
    assert RouteGrouper(PATTERNS).name_for_url("/nowhere/") is None


def answering(replies: dict[str, tuple[int, bytes]], authorizations: list) -> HTTPServer:
    """An HTTP server on 127.0.0.1 answering each path from ``replies`` (404 "{}" otherwise),
    noting each request's Authorization header."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            authorizations.append(self.headers.get("Authorization"))
            status, body = replies.get(self.path, (404, b"{}"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return HTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def server():
    replies = {}
    httpd = answering(replies, [])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", replies
    httpd.shutdown()


def test_patterns_are_fetched_from_the_probe(server):
    url, replies = server
    body = {"urlpatterns": PATTERNS, "app": {"django": "5.2", "debug": False}}
    replies["/perf/api/urlpatterns/"] = (200, json.dumps(body).encode())
    assert fetch_app_description(url) == (body, "")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ((404, b"{}"), "no probe at /perf/api/urlpatterns/ (404): include('perflab.urls')"),
        ((403, b'{"error": "staff only"}'), "the probe hides its routes (403: PERFLAB['EXPOSE_"),
        ((200, b"not json"), "/perf/api/urlpatterns/ did not answer JSON"),
        ((200, b'{"urlpatterns": [{"route": "x", "regex": "("}]}'), "JSON that is not perflab's"),
        ((200, b'{"routes": []}'), "JSON that is not perflab's route list"),
        ((500, b""), "/perf/api/urlpatterns/ answered 500"),
        ((400, b""), "answered 400 (is the --host name in the app's ALLOWED_HOSTS?)"),
    ],
)
def test_no_probe_or_a_bad_answer_means_no_grouping_and_says_why(server, reply, reason):
    url, replies = server
    replies["/perf/api/urlpatterns/"] = reply
    description, why = fetch_app_description(url)
    assert description is None
    assert reason in why and "\n" not in why


def test_an_unreachable_app_says_so():
    description, why = fetch_app_description(f"http://127.0.0.1:{free_port()}", timeout=1)
    assert description is None
    assert why == "/perf/api/urlpatterns/ could not be read (Connection refused)"


def self_signed_certificate(directory: Path, *names: str) -> tuple[Path, Path]:
    """(certificate, key) PEM files naming ``names`` (DNS names or IP addresses): its own CA,
    made by the openssl binary (the cryptography package is not a dependency here)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl binary to make a certificate with")
    certificate, key = directory / "cert.pem", directory / "key.pem"
    alt = ",".join(f"IP:{n}" if n[0].isdigit() or ":" in n else f"DNS:{n}" for n in names)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={alt}",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return certificate, key


@pytest.fixture
def tls_server(tmp_path):
    """The probe's answer over HTTPS on 127.0.0.1, with a certificate for ``names``; the
    Authorization headers it received."""
    httpds = []

    def serve(*names: str) -> tuple[int, Path, list]:
        certificate, key = self_signed_certificate(tmp_path, *names)
        body = json.dumps({"urlpatterns": PATTERNS}).encode()
        authorizations = []
        httpd = answering({"/perf/api/urlpatterns/": (200, body)}, authorizations)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        httpds.append(httpd)
        return httpd.server_address[1], certificate, authorizations

    yield serve
    for httpd in httpds:
        httpd.shutdown()


def test_https_with_the_ca_in_requests_ca_bundle_is_read_with_basic_auth(tls_server, monkeypatch):
    port, certificate, authorizations = tls_server("localhost", "127.0.0.1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    for host in (f"https://localhost:{port}", f"https://127.0.0.1:{port}/"):
        assert fetch_app_description(host) == ({"urlpatterns": PATTERNS}, "")
    description, _ = fetch_app_description(f"https://u:pw@localhost:{port}")
    assert description is not None
    assert authorizations == [None, None, "Basic dTpwdw=="]  # as Locust sends the userinfo


def test_proxies_from_the_environment_are_not_used_as_locusts_http_user_uses_none(
    tls_server, monkeypatch
):
    port, certificate, _ = tls_server("localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(variable, f"http://127.0.0.1:{free_port()}")  # nothing there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert fetch_app_description(f"https://localhost:{port}") == ({"urlpatterns": PATTERNS}, "")


@pytest.mark.parametrize(
    ("names", "host", "why"),
    [
        (("localhost",), "localhost", "self-signed certificate"),
        (("localhost",), "127.0.0.1", "IP address mismatch, certificate is not valid for"),
    ],
)
def test_an_untrusted_certificate_is_one_line_and_never_read_unverified(
    tls_server, monkeypatch, names, host, why
):
    port, certificate, authorizations = tls_server(*names)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    if host == "localhost":
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)  # certifi's store only
    else:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))  # trusted, other names
    description, message = fetch_app_description(f"https://{host}:{port}")
    assert description is None
    assert message.startswith(f"TLS certificate of {host} not trusted: {why}")
    assert "REQUESTS_CA_BUNDLE" in message and "\n" not in message
    assert authorizations == []  # no request was sent over the unverified connection


def test_a_ca_bundle_that_is_not_there_is_said(tls_server, monkeypatch, tmp_path):
    port, _, _ = tls_server("localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    description, message = fetch_app_description(f"https://localhost:{port}")
    assert description is None
    assert message == (
        "/perf/api/urlpatterns/ could not be read (Could not find a suitable TLS CA "
        f"certificate bundle, invalid path: {tmp_path / 'missing.pem'})"
    )


# A catch-all split by what it served (Wagtail's pages), a route named by its URL name, and
# path-style routes; with ROUTE_NAME set every route is per_response.
SPLIT = [
    {"route": "api/posts/<pk>/", "regex": "^api/posts/(?:[^/.]+)/$", "dynamic": True,
     "path_style": True, "per_response": True},
    {"route": "feed", "regex": "^(?:news|blog)/feed/$", "dynamic": True,
     "path_style": False, "per_response": False},
    {"route": "wagtail_serve", "regex": "^((?:[\\w\\-]+/)*)$", "dynamic": True,
     "path_style": False, "per_response": True},
]  # fmt: skip


def served(header: str | None):
    """A response of Locust's HttpUser (requests) with the probe's header, or without."""
    from requests.models import Response

    response = Response()
    if header is not None:
        response.headers["X-Perflab-Route"] = header
    return response


def test_routes_named_by_their_url_name_have_no_slash():
    grouper = RouteGrouper(SPLIT)
    assert grouper.name_for_url("/blog/post-1/") == "wagtail_serve"
    assert grouper.name_for_url("/blog/?page=2") == "wagtail_serve?page=…"
    assert grouper.name_for_url("/news/feed/") == "feed"
    assert grouper.name_for_url("/api/posts/3/") == "/api/posts/<pk>/"


def test_a_split_route_is_counted_under_the_name_of_what_it_served():
    grouper = RouteGrouper(SPLIT)
    for url in ("/blog/post-1/", "/blog/?page=2", "/api/posts/3/", "/news/feed/"):
        grouper.name_for_url(url)
    assert set(grouper.split) == {"wagtail_serve", "wagtail_serve?page=…", "/api/posts/<pk>/"}
    name = grouper.served_name
    assert name("wagtail_serve", served("wagtail_serve[BlogPage]")) == "wagtail_serve[BlogPage]"
    assert name("wagtail_serve?page=…", served("wagtail_serve[BlogIndexPage]")) == (
        "wagtail_serve[BlogIndexPage]?page=…"
    )
    assert name("/api/posts/<pk>/", served("api/posts/<pk>/[draft]")) == ("/api/posts/<pk>/[draft]")


def test_fast_http_users_headers_are_read_too():
    from types import SimpleNamespace

    from geventhttpclient.header import Headers

    grouper = RouteGrouper(SPLIT)
    grouper.name_for_url("/blog/post-1/")
    response = SimpleNamespace(headers=Headers({"x-perflab-route": "wagtail_serve[BlogPage]"}))
    assert grouper.served_name("wagtail_serve", response) == "wagtail_serve[BlogPage]"


@pytest.mark.parametrize(
    "response",
    [served(None), served("feed[x]"), served("wagtail_servefoo"), None, object()],
    ids=["no header", "another route's", "not split", "no response", "no headers"],
)
def test_a_split_route_without_a_served_name_keeps_the_route(response):
    grouper = RouteGrouper(SPLIT)
    grouper.name_for_url("/blog/post-1/")
    assert grouper.served_name("wagtail_serve", response) == "wagtail_serve"


def test_patterns_from_an_older_probe_are_path_style_and_never_split():
    grouper = RouteGrouper(PATTERNS)
    assert grouper.name_for_url("/api/posts/1/") == "/api/posts/<pk>/"
    assert grouper.split == {}


@pytest.mark.parametrize(
    ("name", "route"),
    [
        ("/api/posts/<pk>/", "api/posts/<pk>/"),
        ("/api/posts/?page=…", "api/posts/"),
        ("wagtail_serve[BlogPage]", "wagtail_serve[BlogPage]"),
        ("wagtail_serve[BlogIndexPage]?page=…", "wagtail_serve[BlogIndexPage]"),
        ("shop:item", "shop:item"),
    ],
)
def test_the_report_and_compare_read_a_name_back_as_its_route(name, route):
    assert route_named(name) == route


def figures(name: str, p95: float) -> EndpointFigures:
    latency = dict.fromkeys(("min", "mean", "p50", "p75", "p90", "p95", "p99", "p99_9", "p99_99",
                             "max"), p95) | {"count": 10}  # fmt: skip
    return msgspec.convert({"method": "GET", "name": name, "requests": 10, "failures": 0,
                            "error_rate": 0.0, "rps": 1.0, "latency": latency,
                            "service": latency}, EndpointFigures)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("wagtail_serve[BlogPage]:p95<200ms", "wagtail_serve[BlogPage]"),
        ("GET wagtail_serve[BlogPage]:p95<200ms", "GET wagtail_serve[BlogPage]"),
        ("shop:item:p95<200ms", "shop:item"),  # a namespaced URL name keeps its ':'
    ],
)
def test_slo_scopes_name_split_and_url_named_endpoints(text, scope):
    slo = parse_slo(text)
    assert (slo.scope, slo.metric, slo.threshold) == (scope, "p95", 200.0)
    endpoint = figures(scope.removeprefix("GET "), p95=150.0)
    other = figures("wagtail_serve[HomePage]", p95=900.0)
    [result] = evaluate([slo], endpoint, [endpoint, other])
    assert result.passed and result.actual == 150.0
