"""A loopback HTTP server whose latency is known in advance: the yardstick for the runner.

Three behaviours, combinable, so tests and benchmarks can compare what perflab measured
with what the server did:

- ``--profile 98:10,1.5:50,0.5:300``: answer in 10 ms for 98 % of requests, 50 ms for 1.5 %,
  300 ms for 0.5 %, in a fixed interleaved cycle (so any 1000 consecutive requests hold the
  exact mix);
- ``--stall-every 5 --stall-for 1``: everything answers in ``--base-ms`` except during a
  1 s stall every 5 s, when requests wait for the stall to end (the coordinated-omission
  test);
- ``--service-ms 10``: one request at a time, each taking 10 ms — a fixed service rate of
  100 requests/s, beyond which requests queue (the capacity test).

``python -m perflab.testing.latency_server --port 0`` prints ``listening on PORT`` once ready.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from perflab.errors import PerflabError
from perflab.mount import API_PATH

BODY = b'{"ok": true}'


def parse_profile(text: str) -> list[float]:
    """``98:10,2:50`` → a cycle of delays (seconds) of length 1000 holding that exact mix."""
    pairs = []
    try:
        for part in text.split(","):
            share, ms = part.split(":")
            pairs.append((float(share), float(ms)))
    except ValueError:
        raise PerflabError(
            f"bad --profile {text!r}: expected SHARE:MS,… such as 98:10,2:50"
        ) from None
    if abs(sum(share for share, _ in pairs) - 100) > 1e-6:
        raise PerflabError(f"bad --profile {text!r}: the shares must add up to 100")
    counts = [(round(share * 10), ms / 1000) for share, ms in pairs]
    # Interleave: each delay spread evenly over the 1000 slots (largest remainder first).
    slots = sorted(
        ((i + 0.5) / count, delay) for count, delay in counts for i in range(count) if count
    )
    return [delay for _, delay in slots]


class LatencyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        port: int = 0,
        profile: list[float] | None = None,
        base_ms: float = 1.0,
        stall_every_s: float = 0.0,
        stall_for_s: float = 0.0,
        service_ms: float = 0.0,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.delays = itertools.cycle(profile) if profile else None
        self.base_s = base_ms / 1000
        self.stall_every_s = stall_every_s
        self.stall_for_s = stall_for_s
        self.service_s = service_ms / 1000
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.served = 0
        self.in_flight = 0  # load requests received and not yet answered (or abandoned)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def delay(self) -> None:
        if self.service_s:
            with self.lock:  # one at a time: a fixed service rate
                time.sleep(self.service_s)
                self.served += 1
            return
        if self.stall_every_s:
            phase = time.time() % self.stall_every_s  # epoch-aligned: clients can predict it
            if phase < self.stall_for_s:
                time.sleep(self.stall_for_s - phase)
        if self.delays is not None:
            with self.lock:
                delay = next(self.delays)
            time.sleep(delay)
        else:
            time.sleep(self.base_s)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real app server
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        server = self.server
        if self.path.startswith((API_PATH, "/_")):  # not load: the runner's route lookup, stats
            body = json.dumps({"served": server.served, "in_flight": server.in_flight}).encode()
            self._reply(200 if self.path == "/_stats" else 404, body)
            return
        with server.lock:
            server.in_flight += 1
        try:
            server.delay()
            if not server.service_s:  # (counted under the service lock otherwise)
                with server.lock:
                    server.served += 1
            self._reply(200, BODY)
        finally:
            with server.lock:
                server.in_flight -= 1

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perflab.testing.latency_server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--profile", help="SHARE:MS,… e.g. 98:10,1.5:50,0.5:300")
    parser.add_argument("--base-ms", type=float, default=1.0)
    parser.add_argument("--stall-every", type=float, default=0.0, help="seconds")
    parser.add_argument("--stall-for", type=float, default=0.0, help="seconds")
    parser.add_argument("--service-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        profile = parse_profile(args.profile) if args.profile else None
    except PerflabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = LatencyServer(
        args.port, profile, args.base_ms, args.stall_every, args.stall_for, args.service_ms
    )
    print(f"listening on {server.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
