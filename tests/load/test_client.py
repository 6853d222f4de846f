"""X-Request-ID on the wire for both of Locust's clients, checked on the raw request heads a
real socket server receives (the probe's side of the join reads exactly these bytes)."""

from __future__ import annotations

import socket
import threading
import time

import gevent
import pytest
from geventhttpclient.client import HTTPClient
from locust.clients import HttpSession
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from perflab.load import client as client_module
from perflab.load.client import (
    HEADER,
    ClientTracker,
    request_id_of,
    resolve_request_id,
)


class RawServer:
    """Answers every request with 200 "ok" (after ``delay_s``) and keeps the heads it read."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.delay_s = 0.0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        buffer = b""
        with connection:
            while True:
                data = connection.recv(65536)
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    self.heads.append(head.decode("latin-1"))
                    time.sleep(self.delay_s)
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def ids(self, head: str) -> list[str]:
        return [
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")[1:]
            if line.split(":", 1)[0].lower() == HEADER.lower()
        ]

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def server():
    raw = RawServer()
    yield raw
    raw.close()


@pytest.fixture
def tracker():
    """A tracker installed on Locust's real clients; the classes are restored afterwards."""
    patched = [
        (HttpSession, "_send_request_safe_mode"),
        (HttpSession, "request"),
        (FastHttpSession, "_send_request_safe_mode"),
        (FastHttpSession, "request"),
        (HTTPClient, "_build_request"),
    ]
    saved = [(cls, name, cls.__dict__[name]) for cls, name in patched]
    installed = ClientTracker()
    installed.install()
    yield installed
    for cls, name, original in saved:
        setattr(cls, name, original)


def fast_session(url: str) -> FastHttpSession:
    return FastHttpSession(url, EventHook(), user=None)


def test_fast_http_ids_are_written_into_the_request_head(server, tracker):
    assert tracker.wire_mode
    session = fast_session(server.url)
    sent = [request_id_of(session.get(f"/posts/{n}/")) for n in range(5)]

    on_wire = [server.ids(head) for head in server.heads]
    assert on_wire == [[request_id] for request_id in sent]
    assert len(set(sent)) == 5 and all(i.startswith(tracker.prefix) for i in sent)
    assert all(head.endswith(f"{HEADER}: {i}") for head, i in zip(server.heads, sent, strict=True))


def test_fast_http_keeps_an_id_the_locustfile_sets(server, tracker):
    session = fast_session(server.url)
    response = session.get("/", headers={"x-request-id": "mine-1"})
    assert server.ids(server.heads[-1]) == ["mine-1"]
    assert request_id_of(response) == "mine-1"

    session.client.default_headers["X-Request-Id"] = "from-default-headers"
    response = session.get("/")
    assert server.ids(server.heads[-1]) == ["from-default-headers"]
    assert request_id_of(response) == "from-default-headers"


def test_http_session_gets_the_id_as_a_header(server, tracker):
    session = HttpSession(server.url, EventHook(), user=None)
    headers = {"Accept": "text/plain"}
    response = session.get("/", headers=headers)
    assert server.ids(server.heads[-1]) == [request_id_of(response)]
    assert request_id_of(response).startswith(tracker.prefix)
    assert headers == {"Accept": "text/plain"}  # the locustfile's dict is left alone

    session.headers["x-request-id"] = "session-wide"
    response = session.get("/")
    assert server.ids(server.heads[-1]) == ["session-wide"]
    assert request_id_of(response) == "session-wide"


def test_requests_in_flight_are_counted_while_they_wait(server, tracker):
    server.delay_s = 0.5
    session = fast_session(server.url)
    pending = gevent.spawn(session.get, "/slow/")
    gevent.sleep(0.2)
    assert tracker.in_flight == 1
    pending.join(timeout=5)
    assert tracker.in_flight == 0
    assert pending.value.status_code == 200


def test_falls_back_to_the_header_when_geventhttpclient_changes(server, tracker, monkeypatch):
    def unexpected_build(client, method, uri, **kwargs):
        return b"GET / HTTP/1.1\r\n\r\n"  # not the str head this version expects

    monkeypatch.setattr(HTTPClient, "_build_request", unexpected_build)
    assert client_module._install_head_writer(lambda: "x") is False
    monkeypatch.undo()  # the real geventhttpclient again, but the tracker in header mode

    fallback = ClientTracker()
    monkeypatch.setattr(client_module, "_install_head_writer", lambda next_id: False)
    fallback.install()
    assert not fallback.wire_mode
    response = fast_session(server.url).get("/")
    assert server.ids(server.heads[-1]) == [request_id_of(response)]
    assert request_id_of(response).startswith(fallback.prefix)


def test_resolve_request_id_reads_heads_and_passes_ids_through():
    head = f"GET / HTTP/1.1\r\nHost: x\r\n{HEADER}: pl-1-a\r\n\r\n"
    assert resolve_request_id(head) == "pl-1-a"
    assert resolve_request_id("pl-1-b") == "pl-1-b"


@pytest.mark.parametrize("session_class", [HttpSession, FastHttpSession])
def test_unnamed_requests_are_named_without_secret_values(server, tracker, session_class):
    """Without the probe's routes a request is named by its URL (Locust's name), and that name
    goes to results.json: secret query values are masked by the probe's rule, on the name
    only — the request still sends them."""
    names: list[str] = []
    events = EventHook()
    events.add_listener(lambda name, **kwargs: names.append(name))
    session = session_class(server.url, events, user=None)
    session.get("/posts/?page=2&api-key=k1;jwt=k2")
    session.get("/posts/?page=2&author=me")
    session.get("/posts/?token=k3", name="/posts/ by token")
    with session.rename_request("renamed"):
        session.get("/posts/?token=k4")
    assert names == [
        "/posts/?page=2&api-key=********;jwt=********",
        "/posts/?page=2&author=me",
        "/posts/ by token",
        "renamed",
    ]
    assert "api-key=k1;jwt=k2" in server.heads[0]  # the server gets the real values
