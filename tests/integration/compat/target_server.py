"""The compatibility suite's target: a small, fast HTTP server on 127.0.0.1.

Any path answers 200 with a small JSON body naming the path; a path under ``/fail/``
answers 500; ``/perf/api/urlpatterns/`` answers 404, as any app without perflab's probe
does (so ``perflab run`` groups by Locust's names, as for a foreign target).
``python target_server.py`` prints ``listening on PORT`` once ready. Plain stdlib (no
perflab import), so it starts in milliseconds and stays out of the way of what is compared:
Locust's behaviour under ``locust`` and under ``perflab run``.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Locust's sessions reuse one connection

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/fail/"):
            status = 500
        elif self.path.startswith("/perf/api/"):
            status = 404
        else:
            status = 200
        body = json.dumps({"path": self.path, "ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class TargetServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        # Users stopped at the end of a run drop their keep-alive connections: not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main() -> None:
    server = TargetServer(("127.0.0.1", 0), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
