"""A tiny HTTP/1.1 keep-alive provider on loopback that counts TCP connections.

Enough of the provider for a client: ``POST /api/token`` (any Basic login) and
``GET`` of anything else, answering JSON. ``delay`` seconds are slept before
each answer (a slow provider). Used by the connection-reuse tests and by
``benchmarks/bench_get_client.py``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # Headers and body go out in two writes: with Nagle on, the body waits for
    # the client's delayed ACK (40 ms per call on Linux).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _answer(self, body: dict) -> None:
        if self.server.delay:
            time.sleep(self.server.delay)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.token_requests += 1
        self._answer({"access_token": "t" * 32, "token_type": "Bearer", "expires_in": 600})

    def do_GET(self) -> None:
        self._answer({"ok": True})


class KeepAliveProvider(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.lock = threading.Lock()
        self.connections = 0
        self.token_requests = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> KeepAliveProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
