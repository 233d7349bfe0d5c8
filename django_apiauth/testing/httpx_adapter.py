"""The provider simulation for ``httpx``: the async client's face of the fake provider.

:class:`ProviderTransport` answers ``httpx`` requests from the same
:class:`~.state.SandboxState` and endpoints (:func:`.endpoints.answer`) as the
``responses`` fake and the live sandbox, so one ``FakeProvider`` serves the
sync client (its token fetches included) and the async client alike: same
tokens, counters, faults and delays. ``FakeProvider.start()`` installs it for
its base URL when ``httpx`` is installed; nothing else to wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import requests

from .endpoints import ProviderAnswer, ProviderRequest, answer
from .state import SandboxState

__all__ = ["ProviderTransport", "install", "route"]


def network_error(exception: BaseException, request: httpx.Request) -> BaseException:
    """An injected network failure (often a ``requests`` exception) as httpx raises it."""
    if isinstance(exception, httpx.TransportError):
        return exception
    cause = type(exception).__name__
    if isinstance(exception, requests.ConnectTimeout):
        return httpx.ConnectTimeout(f"simulated {cause}", request=request)
    if isinstance(exception, requests.Timeout):
        return httpx.ReadTimeout(f"simulated {cause}", request=request)
    return httpx.ConnectError(f"simulated network failure ({cause})", request=request)


class ProviderTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport answering from a :class:`SandboxState` (no socket).

    The endpoint runs in a thread (an injected delay or a ``before_token_request``
    hook may block); an answer slower than the request's read timeout raises
    ``httpx.ReadTimeout``, as a hanging provider would.
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Read the stream as a network transport would: ``request.aread()`` would swap
        # in a replayable copy and hide a streamed body's one-shot nature.
        body = b"".join([chunk async for chunk in request.stream])
        provider_request = ProviderRequest(
            method=request.method,
            path=request.url.path,
            query=dict(parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)),
            headers=dict(request.headers.items()),
            body=body,
        )
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        try:
            result: ProviderAnswer = await asyncio.wait_for(
                asyncio.to_thread(answer, provider_request, self.state), read_timeout
            )
        except asyncio.TimeoutError:
            message = "the fake provider did not answer in time"
            raise httpx.ReadTimeout(message, request=request) from None
        if result.exception is not None:
            raise network_error(result.exception, request)
        return httpx.Response(
            result.status,
            headers=result.headers,
            content=result.body.encode("utf-8"),
            request=request,
        )


def install(base_url: str, state: SandboxState) -> Callable[[], None]:
    """Serve async clients that talk to ``base_url`` from ``state``; returns the undo."""
    return route(base_url, ProviderTransport(state))


#: Origin -> the transport standing in for the network there (the test kit's own table).
_routes: dict[str, httpx.AsyncBaseTransport] = {}
_network = httpx.AsyncHTTPTransport.handle_async_request


def route(origin: str, transport: httpx.AsyncBaseTransport) -> Callable[[], None]:
    """Answer httpx's network requests to ``origin`` with ``transport``; returns the undo.

    Patches ``httpx.AsyncHTTPTransport`` while any route exists, as ``responses``
    patches ``requests``: the app's policy (HTTPS, hosts, timeouts, retries) still
    runs in front, and requests to other origins reach the network as usual.
    """
    key = _origin(httpx.URL(origin))
    _routes[key] = transport
    httpx.AsyncHTTPTransport.handle_async_request = _routed  # type: ignore[method-assign]

    def remove() -> None:
        if _routes.get(key) is transport:
            del _routes[key]
        if not _routes:
            httpx.AsyncHTTPTransport.handle_async_request = _network  # type: ignore[method-assign]

    return remove


async def _routed(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
    transport = _routes.get(_origin(request.url))
    if transport is None:
        return await _network(self, request)
    return await transport.handle_async_request(request)


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"
