"""The async client's HTTP layer: the sync transport's policy, on ``httpx``.

Every request, redirect hops included, passes through :class:`PolicyTransport`,
which does what ``ApiSession.send`` and urllib3's ``Retry`` do for the sync
client: the HTTPS policy on every URL, a timeout always, retries with backoff
(the numbers of ``build_retry``). TLS verification is ``APIAUTH['VERIFY']``, never off.
"""

from __future__ import annotations

import asyncio
import os
import random
import ssl
import urllib.request
import weakref
from urllib.parse import urlsplit

import httpx

from django_apiauth.conf import api_settings
from django_apiauth.transport import sync as transport
from django_apiauth.transport.endpoints import check_url_is_secure
from django_apiauth.transport.sync import IDEMPOTENT_METHODS, RETRY_STATUSES, USER_AGENT

__all__ = [
    "create_async_http_client",
    "environment_proxy",
    "shared_async_client",
    "tls_verify",
    "without_secrets",
]

#: Failures where the request never reached the server: safe to retry whatever the method.
CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
#: Failures after the request may have been processed: only idempotent methods are retried.
READ_ERRORS = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError)


def tls_verify() -> ssl.SSLContext | bool:
    """``APIAUTH['VERIFY']`` for httpx: ``True`` (its CA bundle) or a context on the given CAs."""
    verify = api_settings.validated("VERIFY")
    if verify is True:
        return True
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


class PolicyTransport(httpx.AsyncBaseTransport):
    """Wraps the network transport: HTTPS policy, timeouts and retries on every hop.

    The retry numbers are the sync client's, read once when the transport is built.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, *, timeout: httpx.Timeout) -> None:
        self.inner = inner
        self.timeout = timeout
        self.retry = transport.build_retry(IDEMPOTENT_METHODS)
        self.sleep = asyncio.sleep  # the pause between attempts (tests record it)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_url_is_secure(str(request.url))
        self._apply_timeouts(request)
        retries = self.retry.total or 0
        retry_number = 0
        while True:
            delay = None
            try:
                response = await self.inner.handle_async_request(request)
            except CONNECT_ERRORS:
                if retry_number >= retries:
                    raise
            except READ_ERRORS:
                if retry_number >= retries or not self._may_resend(request):
                    raise
            else:
                if (
                    retry_number >= retries
                    or response.status_code not in RETRY_STATUSES
                    or not self._may_resend(request)
                ):
                    return response
                delay = self._retry_after(response)
                if delay is not None and delay > self.retry.MAX_RETRY_AFTER:
                    return response  # too long to wait here: the caller decides
                await response.aclose()
            retry_number += 1
            await self.sleep(self._backoff(retry_number) if delay is None else delay)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def _apply_timeouts(self, request: httpx.Request) -> None:
        # ``timeout=None`` means "no timeout" to httpx; the contract has no such thing.
        timeouts = request.extensions.get("timeout") or {}
        defaults = self.timeout.as_dict()
        request.extensions["timeout"] = {
            name: timeouts.get(name) if timeouts.get(name) is not None else default
            for name, default in defaults.items()
        }

    def _may_resend(self, request: httpx.Request) -> bool:
        # A streamed body was consumed by the first attempt; bytes can be sent again.
        return request.method in IDEMPOTENT_METHODS and isinstance(request.stream, httpx.ByteStream)

    def _retry_after(self, response: httpx.Response) -> float | None:
        header = response.headers.get("Retry-After")
        if header is None or response.status_code not in self.retry.RETRY_AFTER_STATUS_CODES:
            return None
        try:
            return self.retry.parse_retry_after(header)
        except Exception:
            return None  # a garbled header means "no advice", as in the sync client

    def _backoff(self, retry_number: int) -> float:
        # urllib3's formula (Retry.get_backoff_time): the first retry goes at once.
        if retry_number <= 1:
            return 0.0
        retry = self.retry
        value = retry.backoff_factor * 2 ** (retry_number - 1)
        value += random.random() * retry.backoff_jitter  # noqa: S311 - jitter, not a secret
        return max(0.0, min(retry.backoff_max, value))


def environment_proxy(endpoint: str) -> str | None:
    """The proxy ``$HTTPS_PROXY``/``$HTTP_PROXY`` name for ``endpoint``, unless ``$NO_PROXY``.

    httpx's own proxy transports would bypass :class:`PolicyTransport`: the client is
    built with ``trust_env=False`` and this proxy given to the inner transport.
    """
    parts = urlsplit(endpoint)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def create_async_http_client(
    endpoint: str = "", *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A new ``httpx.AsyncClient`` with the app's User-Agent, timeouts, retries and TLS.

    ``endpoint`` is the base URL (for the environment's proxy); ``transport`` replaces
    the network transport (the policy still wraps it). Redirects only when a call asks.
    """
    value = api_settings.validated("TIMEOUT")  # (connect, read); writes and pool as read
    connect, read = value if isinstance(value, tuple) else (value, value)
    timeout = httpx.Timeout(read, connect=connect)
    verify = tls_verify()
    if transport is None:
        transport = httpx.AsyncHTTPTransport(verify=verify, proxy=environment_proxy(endpoint))
    return httpx.AsyncClient(
        transport=PolicyTransport(transport, timeout=timeout),
        timeout=timeout,
        verify=verify,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
    )


#: Per event loop (an ``httpx.AsyncClient`` belongs to one), clients by ``pool_key``.
_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict] = weakref.WeakKeyDictionary()


def shared_async_client(endpoint: str) -> httpx.AsyncClient:
    """``transport.sync.shared_session`` for the running event loop: one pool per host."""
    key = (*transport.pool_key(endpoint), environment_proxy(endpoint))
    clients = _shared.setdefault(asyncio.get_running_loop(), {})
    client = clients.get(key)
    if client is None or client.is_closed:
        client = clients[key] = create_async_http_client(endpoint)
        client.cookies.jar.set_policy(transport.NO_COOKIES)
        client.shared = True  # type: ignore[attr-defined]
    return client


def without_secrets(err: Exception, method: str, url: str) -> Exception:
    """``transport.sync.without_secrets`` for ``httpx``: its frames and httpcore's hold the
    ``Authorization`` header too."""
    if not isinstance(err, httpx.HTTPError):
        return transport.without_secrets(err, method, url)
    timed_out = isinstance(err, httpx.TimeoutException)
    return transport.renamed(err, httpx.TransportError, method, url, timed_out=timed_out)
