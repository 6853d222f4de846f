"""Any http(s) URL is a target when its host resolves and answers. Nothing here leaves the
machine: names and addresses of other machines go through ``resolve_target`` only (IP
literals, which resolve without asking anyone), and connections go to 127.0.0.1 and ::1.

The unresolvable name is a label too long for DNS (64 characters) under the reserved
``.invalid``: this machine's resolver (/etc/resolv.conf) is another machine, so an ordinary
unknown name would be a DNS query leaving it, whereas this one is refused by Python's IDNA
step of ``socket.getaddrinfo`` before any resolver is asked, on every machine."""

import re
import socket
import time
from pathlib import Path

import psutil
import pytest

from perflab.errors import PerflabError
from perflab.load.target import (
    check_target,
    is_this_machine,
    resolve_target,
    this_machines_addresses,
)
from perflab.server import free_port

UNRESOLVABLE = "a" * 64 + ".invalid"
# Documentation addresses (RFC 5737, RFC 3849): another machine's, never connected to.
ELSEWHERE_V4 = "198.51.100.7"
ELSEWHERE_V6 = "2001:db8::7"


@pytest.fixture
def listening():
    """A port listening on 127.0.0.1 (``listening()``) or another loopback address."""
    servers = []

    def listen(address: str = "127.0.0.1") -> int:
        server = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        server.bind((address, 0))
        server.listen()
        servers.append(server)
        return server.getsockname()[1]

    yield listen
    for server in servers:
        server.close()


def test_a_loopback_url_that_answers_is_normalised_with_its_path_prefix_kept(listening):
    port = listening()
    # Locust joins host and path as text: a prefix stays, a trailing "/" would make "//".
    assert check_target(f"http://127.0.0.1:{port}/shop/") == f"http://127.0.0.1:{port}/shop"
    assert check_target(f"http://localhost:{port}/") == f"http://localhost:{port}"
    assert check_target(f"HTTP://127.0.0.1:{port}") == f"http://127.0.0.1:{port}"


def test_ipv6_loopback_answers(listening):
    port = listening("::1")
    assert check_target(f"http://[::1]:{port}") == f"http://[::1]:{port}"


def test_credentials_stay_in_the_url_locust_is_given(listening):
    port = listening()
    # Locust's clients take basic auth from the host's userinfo.
    assert check_target(f"http://u:pw@127.0.0.1:{port}") == f"http://u:pw@127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("url", "name", "port", "base"),
    [
        (f"http://{ELSEWHERE_V4}", ELSEWHERE_V4, 80, f"http://{ELSEWHERE_V4}"),
        (f"https://{ELSEWHERE_V4}/", ELSEWHERE_V4, 443, f"https://{ELSEWHERE_V4}"),
        (f"https://[{ELSEWHERE_V6}]:8443/app/", ELSEWHERE_V6, 8443, f"https://[{ELSEWHERE_V6}]:8443/app"),
        ("http://203.0.113.9:8000", "203.0.113.9", 8000, "http://203.0.113.9:8000"),
    ],
)  # fmt: skip
def test_addresses_of_other_machines_pass_the_url_check(url, name, port, base):
    target = resolve_target(url)
    assert (target.url, target.name, target.port) == (base, name, port)
    assert [address[:2] for _, address in target.addresses] == [(name, port)]
    assert not is_this_machine([name])


def test_names_resolve_to_their_addresses():
    target = resolve_target("https://localhost:8443")
    assert (target.url, target.name, target.port) == ("https://localhost:8443", "localhost", 8443)
    found = {address[0] for _, address in target.addresses}
    assert found and found <= {"127.0.0.1", "::1"}
    assert is_this_machine(found)


def hostname_in_hosts_file() -> str | None:
    """This machine's own name when /etc/hosts lists it (resolved there, no DNS query)."""
    name = socket.gethostname()
    hosts = Path("/etc/hosts")
    lines = hosts.read_text().splitlines() if hosts.exists() else []
    listed = any(name in line.split("#", 1)[0].split()[1:] for line in lines)
    return name if listed else None


def test_this_machines_own_hostname_is_accepted(listening):
    name = hostname_in_hosts_file()
    if name is None:
        pytest.skip("this machine's hostname is not in /etc/hosts: resolving it could ask DNS")
    addresses = [address[0] for _, address in resolve_target(f"http://{name}").addresses]
    assert is_this_machine(addresses)
    loopback = [a for a in addresses if a.startswith("127.") or a == "::1"]
    if loopback:  # connect only over loopback
        port = listening(loopback[0])
        assert check_target(f"http://{name}:{port}") == f"http://{name}:{port}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"http://{UNRESOLVABLE}", f"cannot resolve {UNRESOLVABLE}: label empty or too long"),
        ("https://a..invalid:8443/", "cannot resolve a..invalid: label empty or too long"),
        ("ftp://127.0.0.1", "--host must be a URL such as http://127.0.0.1:8000 or https://"),
        ("127.0.0.1:8000", "--host must be a URL such as"),
        ("http://", "--host must be a URL such as"),
        ("", "--host must be a URL such as"),
        ("http://127.0.0.1:99999", "is not a URL (Port out of range"),
        ("http://127.0.0.1:0", "--host port must be from 1 to 65535"),
        ("http://[::1", "is not a URL (Invalid IPv6 URL)"),
        ("http://127.0.0.1:8000/?page=2", "must not have a query or fragment"),
        ("http://127.0.0.1:8000/#top", "must not have a query or fragment"),
    ],
)
def test_bad_urls_and_unresolvable_names_are_one_line(url, message):
    with pytest.raises(PerflabError, match=re.escape(message)) as e:
        resolve_target(url)
    assert "\n" not in str(e.value)


def test_nothing_listening_is_unreachable_quickly():
    v4, v6 = free_port(), free_port("::1")
    for url, message in (
        (f"http://127.0.0.1:{v4}", f"http://127.0.0.1:{v4} is unreachable: Connection refused"),
        (f"https://[::1]:{v6}/app/", f"https://[::1]:{v6}/app is unreachable: Connection refused"),
    ):
        started = time.monotonic()
        with pytest.raises(PerflabError) as caught:
            check_target(url, timeout=2)
        assert str(caught.value) == message
        assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "url",
    [
        "http://user:s3cret@127.0.0.1:{closed}",
        "https://user:s3cret@127.0.0.1:{closed}/app/",
        f"http://user:s3cret@{UNRESOLVABLE}:8000",
        "ftp://user:s3cret@127.0.0.1",
        "http://user:s3cret@[::1",
        "http://user:s3cret@127.0.0.1:99999",
        "http://127.0.0.1:{closed}/?token=s3cret",
    ],
)
def test_credentials_are_never_in_a_message(url):
    with pytest.raises(PerflabError) as caught:
        check_target(url.format(closed=free_port()))
    message = str(caught.value)
    assert "s3cret" not in message
    assert any(host in message for host in ("127.0.0.1", "[::1", UNRESOLVABLE))  # named


def test_this_machines_addresses_are_loopback_and_its_interfaces():
    families = (socket.AF_INET, socket.AF_INET6)
    entries = [e for found in psutil.net_if_addrs().values() for e in found]
    own = {e.address.split("%")[0] for e in entries if e.family in families}
    assert {str(a) for a in this_machines_addresses()} == own
    assert is_this_machine(own)
    assert is_this_machine(["127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.1", "0.0.0.0"])
    assert ELSEWHERE_V4 not in own and ELSEWHERE_V6 not in own
    assert not is_this_machine([ELSEWHERE_V4])
    assert not is_this_machine([ELSEWHERE_V6])
    assert not is_this_machine(["127.0.0.1", ELSEWHERE_V4])  # some of it elsewhere
    assert not is_this_machine([])
