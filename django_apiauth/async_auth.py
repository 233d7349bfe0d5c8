"""Authorization for the async client: the shared bearer token, and the dashboard login.

The token comes from the very :class:`~django_apiauth.tokens.TokenStore` the
sync client uses (same cache keys, same encryption), so a token fetched by a
sync worker serves async tasks and the reverse. On the warm path (the token in
process memory, before its refresh point) nothing leaves the event loop: one
dict lookup and one clock read. Anything else is the store's in-flight obtain
for this credential, run by a background thread and awaited by every task
that needs it (single flight across the tasks of a loop, the threads of the
process, and — through the store's fleet lease — processes and hosts).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import threading
from typing import TYPE_CHECKING

import httpx

from . import clock
from .auth import dashboard_login

if TYPE_CHECKING:
    from .models import ApiCredential
    from .tokens import Token, TokenStore

__all__ = ["AsyncBearer", "dashboard_basic_auth", "is_token_rejected"]

# A 403 that names the token as the problem (RFC 6750 section 3.1) is a 401 in all but status.
_INVALID_TOKEN = re.compile(r'^\s*bearer\b.*\berror\s*=\s*"?invalid_token\b', re.IGNORECASE)


def is_token_rejected(response: httpx.Response) -> bool:
    """A 401, or a 403 whose ``WWW-Authenticate`` says ``Bearer error="invalid_token"``."""
    status = response.status_code
    if status == 401:
        return True
    if status != 403:
        return False
    return any(_INVALID_TOKEN.match(v) for v in response.headers.get_list("WWW-Authenticate"))


def dashboard_basic_auth(credential: ApiCredential) -> httpx.BasicAuth:
    """HTTP Basic with the dashboard login: base64 of the UTF-8 ``user:password`` (httpx's).

    Raises ``ConfigurationError`` naming the credential when it has no login.
    """
    return httpx.BasicAuth(*dashboard_login(credential))


# --- the store's in-flight obtain -------------------------------------------------
#
# TEMPORARY ADAPTER, replaced by ``TokenStore.pending()`` / ``note_rejected()`` when
# the fleet branch lands: one future per credential key, computed by ``store.get()``
# in a small thread pool, so the tasks of every loop (and the threads) of this
# process share one obtain; the store's fleet lease makes it one per fleet.

_obtains: dict[str, concurrent.futures.Future[Token]] = {}
_obtains_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _reset_after_fork() -> None:
    # The pool's threads do not exist in a child; its futures would never complete.
    global _pool
    _pool = None
    _obtains.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _pending(store: TokenStore) -> concurrent.futures.Future[Token]:
    global _pool
    key = store.key
    with _obtains_lock:
        future = _obtains.get(key)
        if future is not None and not future.done():
            return future
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=4, thread_name_prefix="django_apiauth-token"
            )
        future = _pool.submit(store.get)
        _obtains[key] = future

    def forget(done: concurrent.futures.Future[Token]) -> None:
        with _obtains_lock:
            if _obtains.get(key) is done:
                del _obtains[key]

    future.add_done_callback(forget)
    return future


def _note_rejected(store: TokenStore, token_value: str) -> bool:
    store.invalidate(token_value)
    return True


# --- the bearer token -------------------------------------------------------------


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
                _pending(self.store)  # refresh in the background; this call goes on
                return token
        return await self.wait()

    async def wait(self) -> Token:
        """Await the store's in-flight obtain (starting it if none runs).

        Shielded: a cancelled caller stops waiting, the obtain goes on for the
        others (and for the fleet lease, which its thread always releases).
        """
        waiting = asyncio.wrap_future(_pending(self.store))
        waiting.add_done_callback(_retrieve)
        return await asyncio.shield(waiting)

    async def rejected(self, token_value: str) -> bool:
        """The provider refused ``token_value``: drop it; whether a replay may help.

        May touch the shared cache, so it runs in a thread (never on the warm path).
        """
        return await asyncio.to_thread(_note_rejected, self.store, token_value)
