"""The target of a load test: this machine's loopback only, and answering before we start."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from perflab.errors import PerflabError

LOOPBACK_NAMES = ("localhost",)


def check_target(host: str, timeout: float = 3.0) -> str:
    """The base URL, normalised; a one-line error for anything but a reachable loopback URL."""
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PerflabError(f"--host must be a URL such as http://127.0.0.1:8000, got {host!r}")
    name = parts.hostname
    if name not in LOOPBACK_NAMES:
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            address = None
        if address is None or not address.is_loopback:
            raise PerflabError(
                f"perflab only load-tests this machine's loopback (127.0.0.1, ::1), not {name}"
            )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((name, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise PerflabError(f"{parts.scheme}://{parts.netloc} is unreachable: {reason}") from None
    return f"{parts.scheme}://{parts.netloc}"
