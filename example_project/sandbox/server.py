"""Serving the sandbox (or any WSGI app) on loopback in a background thread.

It runs inside whatever Django settings are active — the test suite's or the
example project's — because the handler forces the sandbox's own URLconf and
skips the host project's middleware (a provider has no sessions or CSRF).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.http import HttpRequest, HttpResponse

from .state import SandboxState

logger = logging.getLogger("sandbox.http")

SANDBOX_URLCONF = "sandbox.urls"


class QuietRequestHandler(WSGIRequestHandler):
    """Logs one DEBUG line per request, without the query string.

    Django's default handler logs the full request line to ``django.server``;
    a query such as ``?signature=<jwt>`` has no business in a log.
    """

    def log_message(self, format: str, *args: Any) -> None:
        request_line = str(args[0]) if args else ""
        method, _, rest = request_line.partition(" ")
        path = urlsplit(rest.partition(" ")[0]).path
        status = args[1] if len(args) > 1 else "-"
        logger.debug("%s %s -> %s", method, path, status)


class SandboxHandler(WSGIHandler):
    """A WSGI handler that serves only the sandbox, with its state on each request."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # The host project's MIDDLEWARE (sessions, CSRF, auth) belongs to the
        # merchant site, not to the provider; serve the bare view chain.
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)

    def get_response(self, request: HttpRequest) -> HttpResponse:
        request.urlconf = SANDBOX_URLCONF
        request.sandbox_state = self.state  # type: ignore[attr-defined]
        return super().get_response(request)


class _WideBacklogServer(ThreadedWSGIServer):
    # socketserver's default listen() backlog of 5 makes a burst of 30+
    # simultaneous connections (a fleet starting, the admin checking 50
    # credentials) wait for SYN retries; a provider has a real backlog.
    request_queue_size = 128


class BackgroundServer:
    """A ``ThreadedWSGIServer`` on ``host:port`` (0 = a free port) in a daemon thread."""

    def __init__(self, app: Callable, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = _WideBacklogServer((host, port), QuietRequestHandler, allow_reuse_address=True)
        self.httpd.set_app(app)
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"wsgi-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and close the socket (idempotent)."""
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class SandboxServer(BackgroundServer):
    """The sandbox provider, running. ``url`` is its base URL, ``state`` its memory."""

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        super().__init__(SandboxHandler(state), host, port)
        state.base_url = self.url

    @property
    def account(self):
        """The first account (what most callers want)."""
        return self.state.account

    def __repr__(self) -> str:
        return f"<SandboxServer {self.url}>"


def start_sandbox(
    host: str = "127.0.0.1", port: int = 0, *, state: SandboxState | None = None
) -> SandboxServer:
    """Start a sandbox provider in a daemon thread and return it (call ``.stop()``)."""
    server = SandboxServer(state or SandboxState(), host, port)
    logger.info("sandbox provider listening on %s", server.url)
    return server
