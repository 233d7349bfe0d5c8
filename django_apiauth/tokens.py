"""Access tokens shared by a whole fleet: process memory, then the Django cache, then the provider.

Lookup order for a credential's token:

1. **Process memory** — a dict lookup and a monotonic clock read; no cache
   round trip, no decryption. This is the path almost every call takes.
2. **The shared cache** (``caches[APIAUTH['CACHE_ALIAS']]``, always through
   :mod:`~django_apiauth.token_cache`, which fails soft) — the token encrypted
   with the key ring, stored with ``TTL = expires_in - leeway``.
3. **The provider** — under a fleet-wide lease (``cache.add``) so that, however
   many processes and threads start at once, one of them asks.

This module is the policy (when to adopt, refresh, wait, remember a failure);
the values live in :mod:`~django_apiauth.token_values`.

Times: local decisions use the monotonic clock (immune to wall-clock jumps);
the shared value carries a wall-clock expiry, because monotonic clocks are not
comparable between hosts. A value read from the cache is never trusted for
longer than the lifetime the provider granted, so a clock jumping backwards
cannot stretch it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.signals import setting_changed
from django.dispatch import receiver

from . import clock, crypto, token_cache
from .conf import api_settings
from .exceptions import InvalidCredentialsError, TokenEndpointError, TokenError
from .token_cache import NoCacheLease
from .token_endpoint import request_token
from .token_values import CACHE_CONTEXT, Block, Token

if TYPE_CHECKING:
    from .models import ApiCredential

__all__ = ["CACHE_CONTEXT", "Token", "TokenStore", "clear_process_memory", "fingerprint"]

log = logging.getLogger("django_apiauth.tokens")

#: How long an ``invalid_client`` answer is remembered, fleet-wide (seconds).
INVALID_CLIENT_MEMORY = 30


# --- process state -----------------------------------------------------------

_memory: dict[str, Token] = {}
_locks: dict[str, threading.Lock] = {}
_blocks: dict[str, Block] = {}  # also kept locally so a dead cache still stops hammering


def clear_process_memory() -> None:
    """Forget every token and remembered failure held by this process (not the shared cache)."""
    _memory.clear()
    _blocks.clear()
    token_cache.reset()


def _reset_locks_after_fork() -> None:
    # A lock held by another thread at fork time would never be released in the child.
    _locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting in {"APIAUTH", "CACHES", "SECRET_KEY"}:
        clear_process_memory()


def fingerprint(base_url: str, api_key: str, api_secret: str) -> str:
    """A keyed hash of what identifies a token: editing any part orphans the old token.

    Keyed by the key ring (a sub-key of its primary key), so the cache key
    reveals nothing about the secret, even to someone who can list the cache's keys.
    """
    message = json.dumps([base_url, api_key, api_secret]).encode("utf-8")
    return crypto.get_key_ring().mac("token-fingerprint", message)[:32]


# --- the store ---------------------------------------------------------------


class TokenStore:
    """The token of one credential, shared by every thread, process and host using it.

    Construct it per credential (cheap); the state lives at module level and in
    the shared cache, keyed by ``key_prefix`` + credential pk + fingerprint.
    """

    key_prefix = "django_apiauth:token:"

    def __init__(self, credential: ApiCredential) -> None:
        self.credential = credential
        self.name = credential.name
        self.endpoint = credential.endpoint
        fp = fingerprint(self.endpoint, credential.api_key, credential.api_secret)
        self.key = f"{self.key_prefix}{credential.pk}:{fp}"
        self.lease_key = self.key + ":lease"
        # Failures are remembered per fingerprint, whichever row holds the credential.
        self.invalid_key = f"{self.key_prefix}invalid:{fp}"
        self.backoff_key = f"{self.key_prefix}backoff:{fp}"
        #: ``cached()``: the token held in process memory, if any (no I/O). A C-level
        #: dict lookup rather than a method, because it is the bearer fast path:
        #: callers use the token while ``clock.current.monotonic() < token.refresh_at``
        #: and call :meth:`get` otherwise.
        self.cached: Callable[[], Token | None] = functools.partial(_memory.get, self.key)

    def __repr__(self) -> str:
        return f"<TokenStore credential={self.name!r}>"

    # -- reading ---------------------------------------------------------------

    def get(self) -> Token:
        """A usable token: from memory when fresh, else the shared cache, else the provider.

        The memory hit is the fast path every bearer call takes: one dict lookup
        and one monotonic clock read, no cache round trip, no decryption.
        """
        token = self.cached()
        if token is not None:
            now = clock.current.monotonic()
            if now < token.refresh_at:
                return token
            if now < token.use_until:
                return self._slow_path(token, wait=False)
        return self._slow_path(None, wait=True)

    def access_token(self) -> str:
        """The current access token as a string (see :meth:`get`)."""
        return self.get().value

    def _lock(self) -> threading.Lock:
        lock = _locks.get(self.key)
        if lock is None:
            lock = _locks.setdefault(self.key, threading.Lock())
        return lock

    def _slow_path(self, usable: Token | None, *, wait: bool) -> Token:
        """Under the process lock, look again, then go to the cache or the provider.

        With a still-usable token (refresh-ahead) this does not wait: if another
        thread of this process holds the lock, it is refreshing, and the current
        token is returned meanwhile.
        """
        lock = self._lock()
        if not lock.acquire(blocking=wait):
            return usable  # type: ignore[return-value] - only ``wait=False`` with a token
        try:
            current = _memory.get(self.key)
            now = clock.current.monotonic()
            if current is not None and now < current.refresh_at:
                return current  # a thread ahead of us fetched or refreshed it
            return self._obtain(
                current if current is not None and now < current.use_until else None
            )
        finally:
            lock.release()

    def _obtain(self, current: Token | None) -> Token:
        """Under the process lock: adopt the shared token, or fetch under the fleet lease.

        ``current`` is a still-usable token in its refresh window, or ``None``.
        """
        shared, block = self._read_shared()
        if shared is not None and clock.current.monotonic() < shared.refresh_at:
            return self._remember(shared)
        fallback = self._latest(current, shared)
        if block is not None:
            if fallback is not None:
                return self._postpone(fallback)
            raise block.exception(self.name)

        lease = self._acquire_lease()
        if lease is None:
            if fallback is not None:
                # Someone else in the fleet is refreshing; look again shortly.
                return self._postpone(fallback, delay=0.5)
            waited = self._wait_for_fleet()
            if isinstance(waited, Token):
                return waited
            lease = waited  # the holder died or gave up: our turn (or no lease at all)

        try:
            return self._fetch(fallback)
        finally:
            token_cache.release_lease(self.lease_key, lease)

    def _acquire_lease(self) -> str | NoCacheLease | None:
        return token_cache.acquire_lease(self.lease_key, api_settings.validated("LOCK_TIMEOUT"))

    def _wait_for_fleet(self) -> Token | str | NoCacheLease | None:
        """Poll the cache while another process fetches; our own lease if the holder died."""
        now = clock.current
        deadline = now.monotonic() + api_settings.validated("LOCK_TIMEOUT") + 1.0
        pause = 0.02
        while now.monotonic() < deadline:
            now.sleep(pause)
            pause = min(pause * 1.5, 0.25)
            shared, block = self._read_shared()
            if shared is not None:
                return self._remember(shared)
            if block is not None:
                raise block.exception(self.name)
            lease = self._acquire_lease()
            if lease is not None:
                return lease
        log.warning(
            "gave up waiting for another process to fetch the token of %r; fetching it here",
            self.name,
        )
        return None

    # -- fetching --------------------------------------------------------------

    def fetch_fresh(self) -> Token:
        """A brand-new token from the provider, bypassing every cache (for checks).

        The new token is then shared as usual; failures are remembered as usual,
        and a success ends whatever failure was remembered: the provider answers.
        """
        token = self._fetch(None)
        self._forget_failures()
        return token

    def _fetch(self, fallback: Token | None) -> Token:
        credential = self.credential
        # Expiry counts from when the request was *sent*: the provider's clock started then.
        sent_mono, sent_wall = clock.current.monotonic(), clock.current.wall()
        try:
            grant = request_token(
                credential=self.name,
                endpoint=self.endpoint,
                api_key=credential.api_key,
                api_secret=credential.api_secret,
            )
        except TokenError as err:
            self._remember_failure(err)
            if fallback is not None and clock.current.monotonic() < fallback.use_until:
                # The current token is still good: keep serving it, try again later.
                log.warning(
                    "refreshing the access token of %r failed (%s); the current token stays in use",
                    self.name,
                    type(err).__name__,
                )
                return self._postpone(fallback)
            raise
        token = Token(
            grant.value,
            lifetime=grant.lifetime,
            expires_at=sent_mono + grant.lifetime,
            expires_at_wall=sent_wall + grant.lifetime,
        )
        self._remember(token)
        ttl = token.use_until - clock.current.monotonic()
        if ttl > 0:
            token_cache.set(self.key, token.as_cache_value(), ttl)
        return token

    def _remember_failure(self, err: TokenError) -> None:
        wall = clock.current.wall()
        if isinstance(err, InvalidCredentialsError) and err.error == "invalid_client":
            block = Block("invalid", wall + INVALID_CLIENT_MEMORY, err.status_code, err.error)
            self._store_block(self.invalid_key, block)
        if isinstance(err, TokenEndpointError) and err.retry_after:
            block = Block("backoff", wall + err.retry_after, err.status_code, None)
            self._store_block(self.backoff_key, block)

    def _store_block(self, key: str, block: Block) -> None:
        _blocks[key] = block
        token_cache.set(key, block.as_cache_value(), block.seconds_left())

    def _remember(self, token: Token) -> Token:
        _memory[self.key] = token
        return token

    def _postpone(self, token: Token, delay: float | None = None) -> Token:
        if delay is None:
            # Retry a failed refresh a few times within the remaining validity, not on every call.
            delay = max(0.05, min(5.0, (token.use_until - clock.current.monotonic()) / 8))
        return self._remember(token.postponed(delay))

    @staticmethod
    def _latest(*tokens: Token | None) -> Token | None:
        now = clock.current.monotonic()
        usable = [t for t in tokens if t is not None and now < t.use_until]
        return max(usable, key=lambda t: t.use_until, default=None)

    # -- the shared cache --------------------------------------------------------

    def _read_shared(self) -> tuple[Token | None, Block | None]:
        values = token_cache.get_many([self.key, self.invalid_key, self.backoff_key])
        block = (
            Block.from_cache_value("invalid", values.get(self.invalid_key))
            or Block.from_cache_value("backoff", values.get(self.backoff_key))
            or self._local_block()
        )
        return Token.from_cache_value(values.get(self.key), self.name), block

    def _local_block(self) -> Block | None:
        for key in (self.invalid_key, self.backoff_key):
            block = _blocks.get(key)
            if block is not None:
                if block.seconds_left() > 0:
                    return block
                _blocks.pop(key, None)
        return None

    # -- dropping ----------------------------------------------------------------

    def invalidate(self, token_value: str | None = None) -> None:
        """Drop the token, everywhere.

        With ``token_value`` (compare-and-delete), only if it is still the stored
        token: a 401 proves *that* token dead, not the fresh one another worker
        may already have put in its place.
        """
        # The shared cache first, then memory: a thread that misses memory reads
        # the cache, so dropping memory first would let it bring the dead token
        # back from the cache before it is deleted there.
        if token_value is None:
            token_cache.delete(self.key)
        else:
            shared = Token.from_cache_value(token_cache.get(self.key), self.name)
            if shared is not None and shared.value == token_value:
                token_cache.delete(self.key)
        # Under the process lock: a thread fetching a new token finishes first, and
        # its fresh token then no longer matches the dead one; a thread that adopted
        # the dead token from the cache before it was deleted there has finished too.
        with self._lock():
            current = _memory.get(self.key)
            if current is not None and (token_value is None or current.value == token_value):
                del _memory[self.key]

    def clear(self) -> None:
        """Drop the token and any remembered failure for this credential (memory and cache)."""
        self.invalidate()
        self._forget_failures(self.lease_key)

    def _forget_failures(self, *more_keys: str) -> None:
        """Drop the remembered ``invalid_client``/``Retry-After`` blocks (memory and cache)."""
        keys = [self.invalid_key, self.backoff_key]
        for key in keys:
            _blocks.pop(key, None)
        token_cache.delete_many([*keys, *more_keys])
