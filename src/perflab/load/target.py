"""The target of a load test: any http(s) URL whose host resolves and answers before we start.

A typo in the host or a server that is down is one line and exit 2 before Locust starts,
not a run of connection errors. The check is split in two so each part can be used alone:
``resolve_target`` parses and resolves (no connection: tests use it on names of other
machines), ``check_target`` also connects. ``is_this_machine`` tells the resource monitor
whether the server's processes can be watched here.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from perflab.errors import PerflabError
from perflab.probe.masking import redact_url

DEFAULT_PORTS = {"http": 80, "https": 443}
EXAMPLE = "http://127.0.0.1:8000 or https://staging.example.com"
_USERINFO = re.compile(r"//[^/?#]*@")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """``--host`` parsed and resolved: the base URL Locust is given and where it connects."""

    url: str  # scheme://[userinfo@]host[:port][/prefix], no trailing "/": Locust's base URL
    name: str  # the host name or address, without brackets
    port: int
    addresses: tuple[tuple[int, tuple], ...]  # (family, sockaddr), in the resolver's order

    @property
    def shown(self) -> str:
        """The URL fit for a message: no password, no secret query value."""
        return redact_url(self.url)


def resolve_target(host: str, timeout: float = 3.0) -> Target:
    """The parsed ``--host`` and its addresses; a one-line error for anything but an http(s)
    base URL whose host resolves within ``timeout`` seconds. Nothing is connected to."""
    try:
        parts = urlsplit(host)
        port = parts.port
    except ValueError as exc:
        raise PerflabError(f"--host {_shown(host)!r} is not a URL ({exc})") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise PerflabError(f"--host must be a URL such as {EXAMPLE}, got {_shown(host)!r}")
    if parts.query or parts.fragment:
        # Locust appends each request's path to the host as text: "…/?a=1" + "/api/" would
        # send every request to the same wrong URL.
        raise PerflabError(f"--host must not have a query or fragment, got {_shown(host)!r}")
    if port == 0:
        raise PerflabError(f"--host port must be from 1 to 65535, got {_shown(host)!r}")
    name = parts.hostname
    port = port or DEFAULT_PORTS[parts.scheme]
    # Locust keeps a path prefix (its clients join host + path as text): an app served under
    # /shop is load-tested at https://host/shop. The trailing "/" goes, or paths would be "//".
    url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return Target(url, name, port, tuple(resolve_addresses(name, port, timeout)))


def check_target(host: str, timeout: float = 3.0) -> str:
    """The base URL, normalised (``resolve_target``); a one-line error unless the host
    resolves and accepts a TCP connection, each within ``timeout`` seconds."""
    target = resolve_target(host, timeout)
    deadline = time.monotonic() + timeout
    failure: OSError | None = None
    for family, address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            with socket.socket(family, socket.SOCK_STREAM) as connection:
                connection.settimeout(remaining)
                connection.connect(address)
        except OSError as exc:
            failure = exc
            continue
        return target.url
    reason = (failure.strerror or str(failure)) if failure else f"no answer within {timeout:g}s"
    raise PerflabError(f"{target.shown} is unreachable: {reason}")


def resolve_addresses(name: str, port: int, timeout: float = 3.0) -> list[tuple[int, tuple]]:
    """``name``'s (family, sockaddr) pairs for TCP; a one-line error naming the host and the
    resolver's reason. The resolver has no timeout of its own (a DNS server that does not
    answer holds it for ~10 s), so it asks from a daemon thread and waits ``timeout``."""
    try:  # what getaddrinfo would do first; under gevent its thread pool would print it
        name.encode("idna")
    except UnicodeError as exc:  # a label too long or empty
        raise PerflabError(f"cannot resolve {name}: {_reason(exc)}") from None
    answer: list = []

    def ask() -> None:
        try:
            answer.append(socket.getaddrinfo(name, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.append(exc)

    asking = threading.Thread(target=ask, name="perflab-resolve", daemon=True)
    asking.start()
    asking.join(timeout)
    if not answer:
        raise PerflabError(f"cannot resolve {name}: no answer within {timeout:g}s")
    found = answer[0]
    if isinstance(found, BaseException):
        raise PerflabError(f"cannot resolve {name}: {_reason(found)}")
    return [(family, address) for family, _, _, _, address in found]


def is_this_machine(addresses: Iterable[str]) -> bool:
    """Whether every address is one of this machine's: loopback, unspecified (0.0.0.0
    reaches this machine) or an address of one of its interfaces."""
    own = this_machines_addresses()
    found = [_address(text) for text in addresses]
    return bool(found) and all(
        a is not None and (a.is_loopback or a.is_unspecified or a in own) for a in found
    )


def this_machines_addresses() -> frozenset[IPAddress]:
    """The addresses of this machine's network interfaces (psutil.net_if_addrs)."""
    import psutil

    families = (socket.AF_INET, socket.AF_INET6)
    found = (
        _address(entry.address)
        for entries in psutil.net_if_addrs().values()
        for entry in entries
        if entry.family in families
    )
    return frozenset(a for a in found if a is not None)


def _address(text: str) -> IPAddress | None:
    """An address from its text; an IPv6 zone ("%eth0") dropped, IPv4-mapped IPv6 unmapped."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc  # the IDNA codec's own words ("label empty or too long")
    return getattr(cause, "strerror", None) or str(cause) or type(cause).__name__


def _shown(host: str) -> str:
    """``--host`` as typed, fit for a message even when it does not parse."""
    try:
        return redact_url(host)
    except ValueError:
        return _USERINFO.sub("//***@", host)
