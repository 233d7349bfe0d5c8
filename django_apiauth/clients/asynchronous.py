"""The async service client: ``await aget_client(name)`` and ``AsyncApiClient``.

Usage, in an async view::

    from django_apiauth.client import aget_client

    client = await aget_client("merchant-fr")
    response = await client.get("/api/merchants/me")             # Bearer, shared fleet-wide
    response = await client.get("/api/dashboard", auth="basic")  # dashboard login

The same surface as :class:`~django_apiauth.clients.sync.ApiClient`, in coroutines,
on ``httpx`` (``pip install "django-apiauth[async]"``); the same token store
(a token fetched by a sync worker serves async tasks and the reverse) and the
same transport policy (:mod:`~django_apiauth.transport.asynchronous`).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import TYPE_CHECKING, Any

try:
    import httpx
except ImportError as err:  # pragma: no cover - depends on what is installed
    raise ImportError('the async client needs httpx: pip install "django-apiauth[async]"') from err

from django_apiauth.clients.cache import ClientCache
from django_apiauth.clients.check import CheckResult
from django_apiauth.clients.sync import AUTH_MODES, ApiClient
from django_apiauth.conf import api_settings
from django_apiauth.exceptions import ApiAuthError, ConfigurationError, TokenError
from django_apiauth.tokens.store import TokenStore
from django_apiauth.transport.async_auth import AsyncBearer, AsyncDashboardBasicAuth
from django_apiauth.transport.asynchronous import shared_async_client, without_secrets
from django_apiauth.transport.auth import is_token_rejection

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["AsyncApiClient", "aget_client"]


async def aget_client(name: str) -> AsyncApiClient:
    """The async client of the *active* credential ``name``; ``CredentialNotFound`` otherwise.

    The same client each time, kept per process like ``get_client``'s
    (``credential_cache.ClientCache``): a warm call is a dict lookup and a
    clock read on the event loop, no query, no thread hop; an edit or a
    deactivation of the credential is seen within about a second.
    """
    return await _clients.aget(name)


class AsyncApiClient:
    """An ``httpx``-based async client bound to one credential.

    ``await request()`` takes a path relative to the credential's endpoint and
    ``httpx`` request arguments (``params``, ``json``, ``data``, ``content``,
    ``files``, ``headers``, ``cookies``, ``timeout``, ``follow_redirects``).
    Bearer tokens come from the shared token store; a 401 (or a 403
    ``invalid_token``) swaps the token and replays once when the body can be
    sent again. Authenticated calls do not follow redirects unless asked to;
    every hop is held to the HTTPS policy and httpx drops the
    ``Authorization`` header on a change of origin.

    The ``httpx.AsyncClient`` underneath belongs to one event loop: each loop
    that uses this client gets its own, so a loop closed between calls (one
    ``asyncio.run`` per call, say) does not break the next one.
    """

    def __init__(self, credential: ApiCredential) -> None:
        self.credential = credential
        self.name = credential.name
        self._store: TokenStore | None = None
        self._bearer: AsyncBearer | None = None
        self._http: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"<AsyncApiClient credential={self.name!r}>"

    # -- plumbing ------------------------------------------------------------

    @property
    def store(self) -> TokenStore:
        """The token store of this credential: the one the sync client uses."""
        if self._store is None:
            self._store = TokenStore(self.credential)
        return self._store

    @property
    def bearer(self) -> AsyncBearer:
        if self._bearer is None:
            self._bearer = AsyncBearer(self.store)
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

    # The sync client's rules, not a copy of them: paths only, and the signature secret.
    url = ApiClient.url
    sign = ApiClient.sign

    # -- calls -----------------------------------------------------------------

    async def request(
        self, method: str, path: str, *, auth: str = "token", **kwargs: Any
    ) -> httpx.Response:
        """Send ``method path`` with ``auth`` = ``"token"``, ``"basic"`` or ``"none"``.

        Raises ``TokenError`` subclasses when no token can be had,
        ``ConfigurationError`` for a credential that cannot do ``auth``, and
        ``httpx`` exceptions for transport failures of the call itself.
        """
        if auth not in AUTH_MODES:
            # Only a string is echoed: httpx users pass ``auth=(user, password)`` here.
            shown = repr(auth) if isinstance(auth, str) else f"a {type(auth).__name__}"
            raise ValueError(
                f"auth must be one of {', '.join(AUTH_MODES)} for {self!r}, not {shown}"
            )
        # As with requests: unauthenticated calls follow redirects, authenticated ones
        # only when asked.
        follow = kwargs.pop("follow_redirects", auth == "none")
        if kwargs.get("timeout", httpx.USE_CLIENT_DEFAULT) is None:
            del kwargs["timeout"]  # None would mean "no timeout" to httpx
        url = self.url(path)
        try:
            return await self._send(method.upper(), url, auth, follow, kwargs)
        except Exception as err:
            failure = without_secrets(err, method, url)
        raise failure from None  # out of the except block: nothing chained

    async def _send(
        self, method: str, url: str, auth: str, follow: bool, kwargs: dict[str, Any]
    ) -> httpx.Response:
        http = self.http
        request = http.build_request(method, url, **kwargs)
        if auth == "token":
            return await self._send_with_token(http, request, follow)
        basic = AsyncDashboardBasicAuth(self.credential) if auth == "basic" else None
        return await http.send(request, auth=basic, follow_redirects=follow)

    async def _send_with_token(
        self, http: httpx.AsyncClient, request: httpx.Request, follow: bool
    ) -> httpx.Response:
        bearer = self.bearer
        request.headers["Authorization"] = (await bearer.token()).header
        response = await http.send(request, follow_redirects=follow)
        if not is_token_rejection(response.status_code, response.headers):
            return response
        # The token of the hop that was refused: httpx strips it on a redirect to
        # another origin, and replaying there would hand that origin a token.
        sent = response.request.headers.get("Authorization", "").partition(" ")[2]
        if not sent or not await bearer.rejected(sent):
            return response
        if not isinstance(request.stream, httpx.ByteStream):
            return response  # a streamed body is gone; the next call uses a new token
        token = await bearer.token()
        if token.value == sent:
            return response
        request.headers["Authorization"] = token.header
        replay = await http.send(request, follow_redirects=follow)
        replay.history = [*response.history, response, *replay.history]
        return replay

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

    # -- tokens ------------------------------------------------------------------

    async def access_token(self) -> str:
        """The current access token (from process memory, the shared cache or the provider)."""
        return (await self.bearer.token()).value

    async def invalidate_token(self) -> None:
        """Drop this credential's token everywhere; the next call fetches a new one."""
        await asyncio.to_thread(self.store.invalidate)

    # -- connectivity -----------------------------------------------------------

    async def check(self) -> CheckResult:
        """Fetch a fresh token (bypassing every cache), then GET ``CHECK_PATH`` when set.

        Never raises for provider or transport errors: the result says what happened.
        """
        started = time.perf_counter()
        method, ok, status, detail = await self._check()
        latency = round((time.perf_counter() - started) * 1000, 1)
        return CheckResult(
            ok, method, status, latency, detail, name=self.name, pk=self.credential.pk
        )

    async def _check(self) -> tuple[str, bool, int | None, str]:
        """``(method, ok, status_code, detail)`` of a check; ``method`` says what ran."""
        try:
            check_path = api_settings.validated("CHECK_PATH")
        except ConfigurationError as err:
            return "token", False, None, str(err)
        method = f"token+GET {check_path}" if check_path else "token"
        try:
            token = await asyncio.to_thread(self.store.fetch_fresh)
            if not check_path:
                return method, True, 200, f"token valid for {token.lifetime:.0f}s"
            response = await self.request("GET", check_path)
        except TokenError as err:
            return method, False, err.status_code, str(err)
        except ApiAuthError as err:  # configuration, HTTPS policy, undecryptable secrets
            return method, False, None, str(err)
        except httpx.HTTPError as err:
            return method, False, None, f"GET {check_path} failed ({type(err).__name__})"
        status = response.status_code
        if 200 <= status < 300:
            return method, True, status, f"token valid; GET {check_path} answered {status}"
        return method, False, status, f"token valid; GET {check_path} answered HTTP {status}"


#: This process's async clients, one per credential name (see ``credential_cache``).
_clients: ClientCache[AsyncApiClient] = ClientCache(AsyncApiClient)
