"""The provider simulation served over real HTTP on loopback, in background threads.

No Django and no ``responses`` here: the standard library's threaded HTTP
server speaks HTTP/1.1 with keep-alive (every answer has a Content-Length), so
a client's connection pool is reused as with the real provider and
whole-request benchmarks measure the client, not TCP handshakes.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .endpoints import ProviderRequest, answer
from .state import Account, SandboxState

__all__ = ["SandboxServer", "start_sandbox"]

logger = logging.getLogger("django_apiauth.testing.http")


class ProviderRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: ProviderHTTPServer
    #: An idle kept-alive connection is closed after this many seconds.
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, OSError):
            # The client (or stop()) closed the connection: nothing left to answer.
            self.close_connection = True

    def dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = ProviderRequest(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=dict(self.headers.items()),
            body=self.rfile.read(length) if length else b"",
        )
        result = answer(request, self.server.state)
        if result.exception is not None:
            # A network failure, simulated: no answer, the connection just closes.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = result.body.encode("utf-8")
        self.send_response(result.status)
        for name, value in result.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch

    def log_message(self, format: str, *args: Any) -> None:
        # One DEBUG line per request, without the query string: a query such
        # as ``?signature=<jwt>`` has no business in a log.
        if format != '"%s" %s %s':
            return
        method, _, rest = str(args[0]).partition(" ")
        path = urlsplit(rest.partition(" ")[0]).path
        logger.debug("%s %s -> %s", method, path, args[1])

    def version_string(self) -> str:
        return "apiauth-sandbox"


class ProviderHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen() backlog of 5 makes a burst of 30+
    # simultaneous connections (a fleet starting, the admin checking 50
    # credentials) wait for SYN retries; a provider has a real backlog.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        self.state = state
        self._open: set[socket.socket] = set()
        #: Connections accepted so far (a keep-alive client reuses one).
        self.connections_opened = 0
        self._open_lock = threading.Lock()
        super().__init__(address, ProviderRequestHandler)

    def track(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.add(connection)
            self.connections_opened += 1

    def untrack(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(connection)

    def close_open_connections(self) -> None:
        """Close kept-alive connections, whose threads would otherwise wait for a request."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class SandboxServer:
    """The sandbox provider, running. ``url`` is its base URL, ``state`` its memory."""

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.httpd = ProviderHTTPServer((host, port), state)
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        state.base_url = self.url
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"apiauth-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def account(self) -> Account:
        """The first account (what most callers want)."""
        return self.state.account

    @property
    def issued_tokens(self) -> tuple[str, ...]:
        """Every access token handed out, revoked ones included (for leak tests)."""
        return tuple(self.state.issued_token_values())

    def serve_forever(self) -> None:
        """Block until interrupted (Ctrl-C), then stop."""
        try:
            self._thread.join()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop accepting requests, close every connection and the socket (idempotent)."""
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.close_open_connections()
        self.httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SandboxServer {self.url}>"


def start_sandbox(
    host: str = "127.0.0.1", port: int = 0, *, state: SandboxState | None = None
) -> SandboxServer:
    """Start a sandbox provider in a daemon thread and return it (call ``.stop()``).

    ``port=0`` picks a free port; ``state`` defaults to one random account.
    """
    server = SandboxServer(state or SandboxState(), host, port)
    logger.info("sandbox provider listening on %s", server.url)
    return server
