"""The async client: ``await aget_client(name)`` and ``AsyncApiClient``, on ``httpx``.

The same surface, token store and transport policy as the sync client, in
coroutines (``pip install "django-apiauth[async]"``); usage in ``docs/async.md``.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync, sync_to_async

try:
    import httpx
except ImportError as err:  # pragma: no cover - depends on what is installed
    raise ImportError('the async client needs httpx: pip install "django-apiauth[async]"') from err

from django_apiauth import telemetry
from django_apiauth.clients.async_bearer import AsyncBearerAuth
from django_apiauth.clients.base import ClientBase
from django_apiauth.clients.check import CheckResult
from django_apiauth.credential_cache import ClientCache
from django_apiauth.transport.asynchronous import shared_async_client, without_secrets
from django_apiauth.transport.basic import dashboard_login

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["AsyncApiClient", "aget_client"]


async def aget_client(name: str) -> AsyncApiClient:
    """The async client of the *active* credential ``name``; ``CredentialNotFound`` otherwise.

    Kept per process like ``get_client``'s: warm, a dict lookup on the event
    loop; an edit or a deactivation of the credential is seen within a second.
    """
    return await _clients.aget(name)


class AsyncApiClient(ClientBase):
    """An ``httpx``-based async client bound to one credential.

    ``await request()`` takes a path relative to the credential's endpoint and
    ``httpx`` request arguments (``params``, ``json``, ``data``, ``content``,
    ``files``, ``headers``, ``cookies``, ``timeout``, ``follow_redirects``).
    A refused bearer token is replayed (twice at most) when the body can be sent again
    (:mod:`~django_apiauth.clients.async_bearer`). Authenticated calls follow
    redirects only when asked; every hop is held to the HTTPS policy and httpx
    drops the ``Authorization`` header on a change of origin.

    The ``httpx.AsyncClient`` underneath belongs to one event loop: each loop
    that uses this client gets its own, so a loop closed between calls (one
    ``asyncio.run`` per call, say) does not break the next one.
    """

    def __init__(self, credential: ApiCredential) -> None:
        super().__init__(credential)
        self._bearer: AsyncBearerAuth | None = None
        self._http: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def bearer(self) -> AsyncBearerAuth:
        if self._bearer is None:
            self._bearer = AsyncBearerAuth(self.store)
        return self._bearer

    @property
    def http(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` of the running event loop (built on first use)."""
        loop = asyncio.get_running_loop()
        client = self._http.get(loop)
        if client is None:
            client = self._http[loop] = self.create_http_client()
        return client

    def create_http_client(self) -> httpx.AsyncClient:
        """Override to customise the ``httpx.AsyncClient`` (``create_async_http_client``)."""
        return shared_async_client(self.credential.endpoint)

    async def aclose(self) -> None:
        """Close this client's own ``httpx`` client; a shared one stays open for the others."""
        client = self._http.pop(asyncio.get_running_loop(), None)
        if client is not None and not getattr(client, "shared", False):
            await client.aclose()

    async def __aenter__(self) -> AsyncApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _auth(self, mode: str) -> httpx.Auth | None:
        if mode == "token":
            return self.bearer
        self.check_auth_mode(mode)
        return httpx.BasicAuth(*dashboard_login(self.credential)) if mode == "basic" else None

    async def request(
        self, method: str, path: str, *, auth: str = "token", **kwargs: Any
    ) -> httpx.Response:
        """Send ``method path`` with ``auth`` = ``"token"``, ``"basic"`` or ``"none"``.

        Raises ``TokenError`` subclasses when no token can be had,
        ``ConfigurationError`` for a credential that cannot do ``auth``,
        ``ValueError`` for any other ``auth`` (``None`` included), and ``httpx``
        exceptions for transport failures of the call itself.
        """
        credentials = self._auth(auth)
        # As with requests: unauthenticated calls follow redirects, others only when asked.
        follow = kwargs.pop("follow_redirects", auth == "none")
        if kwargs.get("timeout", httpx.USE_CLIENT_DEFAULT) is None:
            del kwargs["timeout"]  # None would mean "no timeout" to httpx
        url = self.url(path)
        try:
            http = self.http
            request = http.build_request(method.upper(), url, **kwargs)
            return await http.send(request, auth=credentials, follow_redirects=follow)
        except Exception as err:
            failure = without_secrets(err, method, url)
        raise failure from None  # out of the except block: nothing chained

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def access_token(self) -> str:
        """The current access token (from process memory, the shared cache or the provider)."""
        return (await self.bearer.token()).value

    async def invalidate_token(self) -> None:
        """Drop this credential's token everywhere; the next call fetches a new one."""
        await asyncio.to_thread(self.store.invalidate)

    @telemetry.connectivity_check
    async def check(self) -> CheckResult:
        """Fetch a fresh token (bypassing every cache), then GET ``CHECK_PATH`` when set.

        Never raises for provider or transport errors: the result says what happened.
        """
        # The one check, in a thread; its GET comes back to this loop's httpx client.
        return await sync_to_async(self._run_check, thread_sensitive=False)(
            async_to_sync(self._status)
        )

    async def _status(self, path: str) -> tuple[int | None, str | None]:
        try:
            response = await self.request("GET", path)
        except httpx.HTTPError as err:
            return None, type(err).__name__
        return response.status_code, None


#: This process's async clients, one per credential name (see ``credential_cache``).
_clients: ClientCache[AsyncApiClient] = ClientCache(AsyncApiClient)
