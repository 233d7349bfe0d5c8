"""Authorization for the async client: the shared bearer token, and the dashboard login.

The token comes from the very :class:`~django_apiauth.tokens.store.TokenStore` the
sync client uses (same cache keys, same encryption), so a token fetched by a
sync worker serves async tasks and the reverse. On the warm path (the token in
process memory and usable) nothing leaves the event loop: a dict lookup and a
clock read; in its refresh window ``store.get()`` returns it at memory speed
and starts the background refresh. Without a usable token, every task awaits
the store's in-flight obtain (``store.pending()``), run by a background
thread: single flight across the tasks of every loop, the threads of the
process and, through the store's fleet lease, processes and hosts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from types import SimpleNamespace
from typing import TYPE_CHECKING

import httpx

from django_apiauth import clock, telemetry
from django_apiauth.tokens import timing
from django_apiauth.transport.auth import DashboardBasicAuth

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential
    from django_apiauth.tokens.store import Token, TokenStore

__all__ = ["AsyncBearer", "AsyncDashboardBasicAuth"]


class AsyncDashboardBasicAuth(httpx.Auth):
    """HTTP Basic with the credential's dashboard login, by the sync client's rules.

    The sync :class:`~django_apiauth.transport.auth.DashboardBasicAuth` checks the login
    (``ConfigurationError`` naming the credential when it is missing or not
    text) and encodes it (base64 of the UTF-8 ``user:password``); this applies
    the header it makes to the httpx request, so the two never differ.
    """

    def __init__(self, credential: ApiCredential) -> None:
        self._sync = DashboardBasicAuth(credential)

    def __repr__(self) -> str:
        return f"<AsyncDashboardBasicAuth credential={self._sync.name!r}>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # A requests auth object only sets ``r.headers``: give it somewhere to set it.
        carrier = SimpleNamespace(headers={})
        self._sync(carrier)  # type: ignore[arg-type]
        request.headers["Authorization"] = carrier.headers["Authorization"]
        yield request


def _retrieve(future: asyncio.Future[Token]) -> None:
    # A shielded obtain whose waiter was cancelled: read its outcome so that asyncio
    # does not report "exception was never retrieved" for it.
    if not future.cancelled():
        future.exception()


class AsyncBearer:
    """The bearer token of one credential, for coroutines."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store
        self._cached = store.cached  # bound once: the warm path allocates nothing

    def __repr__(self) -> str:
        return f"<AsyncBearer credential={self.store.name!r}>"

    async def token(self) -> Token:
        """A usable token; waits only when there is none (never for a refresh ahead)."""
        token = self._cached()
        if token is not None:
            now = clock.current.monotonic()
            if now < token.refresh_at:
                return token
            if now < token.use_until:
                # Memory speed: returns a usable token and starts the background refresh.
                return self.store.get()
        return await self.wait()

    async def wait(self) -> Token:
        """Await the store's in-flight obtain (started if none runs).

        Shielded: a cancelled caller stops waiting, the obtain goes on for the
        others (and for the fleet lease, which its thread always releases).
        Bounded as the sync ``store.get()`` is, by ``timing.cold_wait_limit()``.
        """
        telemetry.token_wait(self.store.name)
        waiting = asyncio.wrap_future(self.store.pending())
        waiting.add_done_callback(_retrieve)
        limit = timing.cold_wait_limit()
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), limit)
        except asyncio.TimeoutError:
            pass  # raised below, outside the handler: the timeout adds nothing to the error
        raise timing.no_token_in_time(self.store.name, limit)

    async def rejected(self, token_value: str) -> bool:
        """The provider refused ``token_value``: whether a replay with a newer token makes sense.

        ``store.note_rejected`` may touch the shared cache, so it runs in a thread
        (never on the warm path).
        """
        telemetry.token_rejected(self.store.name)
        return await asyncio.to_thread(self.store.note_rejected, token_value)
