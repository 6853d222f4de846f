"""Load tests target this machine's loopback only, and only when something answers."""

import socket

import pytest

from perflab.errors import PerflabError
from perflab.load.target import check_target
from perflab.server import free_port


@pytest.fixture
def listening():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def test_loopback_url_that_answers_is_normalised(listening):
    assert check_target(f"http://127.0.0.1:{listening}/some/path") == (
        f"http://127.0.0.1:{listening}"
    )
    assert check_target(f"http://localhost:{listening}") == f"http://localhost:{listening}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1:80", "loopback"),
        ("http://example.com", "loopback"),
        ("ftp://127.0.0.1", "must be a URL"),
        ("127.0.0.1:8000", "must be a URL"),
    ],
)
def test_other_hosts_are_refused(url, message):
    with pytest.raises(PerflabError, match=message):
        check_target(url)


def test_nothing_listening_is_unreachable():
    with pytest.raises(PerflabError, match="unreachable"):
        check_target(f"http://127.0.0.1:{free_port()}")
