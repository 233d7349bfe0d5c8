"""Serving the shop site (a WSGI app) on loopback in a background thread.

The demo needs the merchant's own site running to receive the provider's
notifications; the provider itself comes from ``django_apiauth.testing``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

logger = logging.getLogger("shop.http")


class QuietRequestHandler(WSGIRequestHandler):
    """Logs one DEBUG line per request, without the query string."""

    def log_message(self, format: str, *args: Any) -> None:
        request_line = str(args[0]) if args else ""
        method, _, rest = request_line.partition(" ")
        path = urlsplit(rest.partition(" ")[0]).path
        status = args[1] if len(args) > 1 else "-"
        logger.debug("%s %s -> %s", method, path, status)


class BackgroundServer:
    """A ``ThreadedWSGIServer`` on ``host:port`` (0 = a free port) in a daemon thread."""

    def __init__(self, app: Callable, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = ThreadedWSGIServer((host, port), QuietRequestHandler, allow_reuse_address=True)
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
