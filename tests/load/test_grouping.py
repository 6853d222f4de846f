"""Naming requests after Django routes: bounded names whatever the URLs."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from perflab.load.grouping import RouteGrouper, fetch_app_description

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


@pytest.fixture
def server():
    replies = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = replies.get(self.path, (404, b"{}"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", replies
    httpd.shutdown()


def test_patterns_are_fetched_from_the_probe(server):
    url, replies = server
    body = {"urlpatterns": PATTERNS, "app": {"django": "5.2", "debug": False}}
    replies["/perf/api/urlpatterns/"] = (200, json.dumps(body).encode())
    assert fetch_app_description(url) == body


@pytest.mark.parametrize(
    "reply",
    [(404, b"{}"), (200, b"not json"), (200, b'{"urlpatterns": [{"route": "x", "regex": "("}]}'),
     (403, b'{"error": "staff only"}')],
)  # fmt: skip
def test_no_probe_or_a_bad_answer_means_no_grouping(server, reply):
    url, replies = server
    replies["/perf/api/urlpatterns/"] = reply
    assert fetch_app_description(url) is None
