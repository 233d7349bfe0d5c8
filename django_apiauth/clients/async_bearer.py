"""The bearer token for the async client: an ``httpx.Auth`` on the sync client's token store.

What it waits for and when it replays is in ``docs/async.md`` ("One token for sync and async
callers"); a refusal is judged by ``TokenStore.rejected`` in a thread (it may wait on the cache).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

import httpx

from django_apiauth import clock, telemetry
from django_apiauth.clients.bearer import MAX_REPLAYS, is_token_rejection, sent_token
from django_apiauth.tokens import timing

if TYPE_CHECKING:
    from django_apiauth.tokens.store import Token, TokenStore

__all__ = ["AsyncBearerAuth"]


def _retrieve(future: asyncio.Future[Token]) -> None:
    # A shielded obtain whose waiter was cancelled: read its outcome so that asyncio
    # does not report "exception was never retrieved" for it.
    if not future.cancelled():
        future.exception()


class AsyncBearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` from the shared token store, for ``httpx``."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store
        self._cached = store.cached  # bound once: the warm path allocates nothing

    def __repr__(self) -> str:
        return f"<AsyncBearerAuth credential={self.store.name!r}>"

    def sync_auth_flow(self, request: httpx.Request):  # type: ignore[override]
        raise RuntimeError("AsyncBearerAuth serves httpx.AsyncClient only; use ApiClient")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        for replay in range(1 + MAX_REPLAYS):  # a replacement may be revoked meanwhile
            request.headers["Authorization"] = token.header
            response = yield request
            if not is_token_rejection(response.status_code, response.headers):
                await self._prove(token)
                return
            sent = sent_token(response.request.headers)
            if replay == MAX_REPLAYS or not sent:
                return
            token = await asyncio.to_thread(self.store.rejected, sent)
            if token is None or token.value == sent:
                return
            if not isinstance(request.stream, httpx.ByteStream):
                return  # a streamed body is gone; the next call uses the new token

    async def _prove(self, token: Token) -> None:
        if not token.proven:  # once per token
            await asyncio.to_thread(self.store.proven, token)

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
        """Await the store's in-flight obtain (started if none runs), at most ``cold_wait_limit()``.

        Shielded: a cancelled caller stops waiting, the obtain goes on for the
        others (and for the fleet lease, which its thread always releases).
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
