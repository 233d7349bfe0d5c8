"""Access tokens shared by a whole fleet: process memory, then the Django cache, then the provider.

Lookup order for a credential's token:

1. **Process memory** — an attribute read and a monotonic clock read; no cache
   round trip, no decryption, no lock. Every call takes this path while a
   usable token exists, including the calls made while it is being refreshed.
2. **The shared cache** (``caches[APIAUTH['CACHE_ALIAS']]``, always through
   :mod:`~django_apiauth.token_cache`, which fails soft and bounds every call
   by ``CACHE_TIMEOUT``) — the token encrypted with the key ring and bound to
   its cache key, stored with ``TTL = expires_in - leeway``.
3. **The provider** — under a fleet-wide lease (``cache.add``, renewed while
   the fetch runs) so that, however many processes start at once, one asks.

Nobody waits for a refresh: it starts ``refresh_margin()`` before the token
goes out of use (sized from the measured fetch latency) and runs in a
background daemon thread, one per credential per process (the *obtain*); the
other processes' obtains find the lease taken and adopt what its holder puts
in the cache. Only a caller with no usable token at all (a cold start, or an
expired token) waits — on the obtain's future, never on a lock — and the
obtain re-reads the shared cache meanwhile, so a token another host fetched
is adopted even while this process's own fetch hangs.

Times: local decisions use the monotonic clock (immune to wall-clock jumps);
the shared value carries a wall-clock expiry, because monotonic clocks are not
comparable between hosts. A value read from the cache is never trusted for
longer than the lifetime the provider granted.
"""

from __future__ import annotations

import functools
import json
import logging
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from django.core.signals import setting_changed
from django.dispatch import receiver

from . import background, clock, crypto, token_cache, token_memory, token_timing
from .conf import api_settings
from .exceptions import InvalidCredentialsError, TokenEndpointError, TokenError
from .token_cache import NoCacheLease
from .token_endpoint import request_token
from .token_values import CACHE_CONTEXT, INVALID_CLIENT_MEMORY, MAX_BACKOFF, Block, Token

if TYPE_CHECKING:
    from .models import ApiCredential

__all__ = [
    "CACHE_CONTEXT",
    "INVALID_CLIENT_MEMORY",
    "REJECTION_INTERVAL",
    "Token",
    "TokenStore",
    "clear_process_memory",
    "fingerprint",
]

log = logging.getLogger("django_apiauth.tokens")

#: After a token is dropped because the provider rejected it, further rejections
#: drop nothing for this long (seconds, fleet-wide): a permanent 401 costs a
#: token request per interval, not one per call.
REJECTION_INTERVAL = 30
#: Weight of the newest fetch in the moving average of the fetch latency.
LATENCY_WEIGHT = 0.3
#: Longest pause between two looks at the shared cache while waiting (seconds).
LONGEST_POLL = 0.25


def clear_process_memory() -> None:
    """Forget every token and remembered failure held by this process (not the shared cache)."""
    token_memory.clear()
    token_cache.reset()


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


class TokenStore:
    """The token of one credential, shared by every thread, process and host using it.

    Construct it per credential (cheap); the state lives in this process's
    :mod:`~django_apiauth.token_memory` (one slot per credential) and in the
    shared cache, keyed by ``key_prefix`` + credential pk + fingerprint.
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
        self.rejected_key = f"{self.key_prefix}rejected:{fp}"
        owner = credential.pk if credential.pk is not None else self.key
        self._slot = token_memory.slot_for(owner, self.key)
        #: ``cached()``: the token held in process memory, if any (no I/O). A C-level
        #: call rather than a method, because it is the bearer fast path: callers
        #: use the token while ``clock.current.monotonic() < token.refresh_at`` and
        #: call :meth:`get` otherwise (which still answers at once while it is usable).
        self.cached = functools.partial(getattr, self._slot, "token")

    def __repr__(self) -> str:
        return f"<TokenStore credential={self.name!r}>"

    # -- reading ---------------------------------------------------------------

    def get(self) -> Token:
        """A usable token, at memory speed whenever one exists.

        In its refresh window the current token is returned at once and a
        background refresh is started (if none runs). With no usable token, the
        caller waits for this process's obtain (see :meth:`pending`).
        """
        token = self._slot.token
        if token is not None:
            now = clock.current.monotonic()
            if now < token.use_until:
                if now >= token.refresh_at and not self._slot.running:
                    self._start_obtain()
                return token
        return self._wait()

    def access_token(self) -> str:
        """The current access token as a string (see :meth:`get`)."""
        return self.get().value

    def pending(self) -> Future[Token]:
        """The in-flight obtain of this process for this credential, started if none runs.

        Resolves with a usable token or raises the ``TokenError``. The future is
        already running, so cancelling it (or the asyncio task awaiting it) does
        not stop the obtain, the fetch or the lease: other callers share them.
        """
        slot = self._slot
        with slot.lock:
            future = slot.future
            if future is None:
                future = slot.future = background.running_future()
            self._start_obtain_locked()
        return future

    def _wait(self) -> Token:
        limit = token_timing.cold_wait_limit()
        try:
            return self.pending().result(timeout=limit)
        except FutureTimeout:
            raise TokenEndpointError(
                f"no access token for credential {self.name!r} within {limit:.0f}s "
                "(the token endpoint, or the process holding the fleet lease, does not answer)",
                credential=self.name,
            ) from None

    def _start_obtain(self) -> None:
        with self._slot.lock:
            self._start_obtain_locked()

    def _start_obtain_locked(self) -> None:
        if not self._slot.running:
            self._slot.running = True
            background.start(self._run_obtains, name=f"apiauth-token-{self.name}")

    # -- the obtain (a background thread) --------------------------------------

    def _run_obtains(self) -> None:
        """Obtain a token and settle whoever waits for it (an early adopt may have already)."""
        slot = self._slot
        try:
            outcome: Token | BaseException = self._obtain()
        except BaseException as err:  # handed to the waiters, who re-raise it
            outcome = err
        with slot.lock:
            future, slot.future = slot.future, None
            slot.running = False
        if future is not None:
            background.settle(future, outcome)

    def _obtain(self) -> Token:
        """Adopt the shared token, or fetch under the fleet lease; never in a caller's thread."""
        current = self._usable(self._slot.token)
        now = clock.current.monotonic()
        if current is not None and now < current.refresh_at:
            return current  # fresh already (a refresh finished just before this obtain)
        shared, block = self._read_shared()
        if shared is not None and now < shared.refresh_at:
            return self._adopt(shared)
        fallback = self._latest(current, shared)
        if fallback is not None and current is None:
            self._adopt(fallback)  # usable meanwhile (in its refresh window): waiters go
        if block is not None:
            if fallback is not None:
                return self._postpone(fallback)
            raise block.exception(self.name)
        lease = self._acquire_lease()
        if lease is None:
            waited = self._wait_for_fleet()
            if isinstance(waited, Token):
                return waited
            lease = waited  # the holder died or gave up: our turn (or no lease at all)
        try:
            return self._fetch_supervised(lease, fallback)
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
            pause = min(pause * 1.5, LONGEST_POLL)
            shared, block = self._read_shared()
            if shared is not None and now.monotonic() < shared.refresh_at:
                return self._adopt(shared)
            if block is not None:
                current = self._usable(self._slot.token)
                if current is not None:
                    return self._postpone(current)
                raise block.exception(self.name)
            lease = self._acquire_lease()
            if lease is not None:
                return lease
        log.warning(
            "gave up waiting for another process to fetch the token of %r; fetching it here",
            self.name,
        )
        return None

    def _fetch_supervised(self, lease: str | NoCacheLease | None, fallback: Token | None) -> Token:
        """Fetch in a thread of its own while this one renews the lease and watches the cache.

        A caller with no usable token is handed a token another host put in the
        shared cache as soon as it appears, even if our own fetch hangs.
        """
        fetch = background.start(self._fetch, fallback, name=f"apiauth-fetch-{self.name}")
        lease_time = api_settings.validated("LOCK_TIMEOUT")
        renew_at = clock.current.monotonic() + lease_time / 3
        pause = 0.02
        while True:
            try:
                return fetch.result(timeout=pause)
            except FutureTimeout:
                pass
            pause = min(pause * 1.5, LONGEST_POLL)
            now = clock.current.monotonic()
            if now >= renew_at:
                renew_at = now + lease_time / 3
                token_cache.renew_lease(self.lease_key, lease, lease_time)
            if self._usable(self._slot.token) is None:
                shared, _ = self._read_shared()
                if shared is not None:
                    self._adopt(shared)

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
        latency = self._measured(clock.current.monotonic() - sent_mono)
        token = Token(
            grant.value,
            lifetime=grant.lifetime,
            expires_at=sent_mono + grant.lifetime,
            expires_at_wall=sent_wall + grant.lifetime,
            latency=latency,
        )
        with self._slot.lock:
            self._slot.token = token
        ttl = token.use_until - clock.current.monotonic()
        if ttl > 0:
            token_cache.set(self.key, token.as_cache_value(self.key), ttl)
        return token

    def _measured(self, latency: float) -> float:
        """Fold one fetch's latency into this credential's moving average."""
        slot = self._slot
        with slot.lock:
            previous = slot.latency
            slot.latency = (
                latency
                if previous is None
                else (1 - LATENCY_WEIGHT) * previous + LATENCY_WEIGHT * latency
            )
            return slot.latency

    def _remember_failure(self, err: TokenError) -> None:
        wall = clock.current.wall()
        if isinstance(err, InvalidCredentialsError) and err.error == "invalid_client":
            block = Block("invalid", wall + INVALID_CLIENT_MEMORY, err.status_code, err.error)
            self._store_block(self.invalid_key, block)
        if isinstance(err, TokenEndpointError) and err.retry_after:
            pause = min(err.retry_after, MAX_BACKOFF)
            self._store_block(
                self.backoff_key, Block("backoff", wall + pause, err.status_code, None)
            )

    def _store_block(self, key: str, block: Block) -> None:
        self._slot.blocks[key] = block
        token_cache.set(key, block.as_cache_value(), block.seconds_left())

    def _adopt(self, token: Token) -> Token:
        """Take ``token`` (from the cache) into memory unless it is dead or older than ours."""
        slot = self._slot
        with slot.lock:
            current = slot.token
            if (
                current is None
                or current.value != token.value
                or token.use_until > current.use_until
            ):
                slot.token = token
                if slot.latency is None and token.latency:
                    slot.latency = token.latency
            future = slot.future
            if future is not None and clock.current.monotonic() < token.use_until:
                slot.future = None  # waiters go now; the obtain goes on for a fresh token
            else:
                future = None
        if future is not None:
            background.settle(future, token)
        return token

    def _postpone(self, token: Token) -> Token:
        # Retry a failed refresh a few times within the remaining validity, not on every call.
        delay = max(0.05, min(5.0, (token.use_until - clock.current.monotonic()) / 8))
        postponed = token.postponed(delay)
        with self._slot.lock:
            if self._slot.token is None or self._slot.token.value == token.value:
                self._slot.token = postponed
        return postponed

    @staticmethod
    def _usable(token: Token | None) -> Token | None:
        return token if token is not None and clock.current.monotonic() < token.use_until else None

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
        shared = Token.from_cache_value(values.get(self.key), self.name, self.key)
        if shared is not None and shared.value == self._slot.dropped:
            shared = None  # a dead token still in a cache that missed the delete
        return shared, block

    def _local_block(self) -> Block | None:
        blocks = self._slot.blocks
        for key in (self.invalid_key, self.backoff_key):
            block = blocks.get(key)
            if block is not None:
                if block.seconds_left() > 0:
                    return block
                blocks.pop(key, None)
        return None

    # -- rejected and dropped tokens ------------------------------------------------

    def note_rejected(self, token_value: str) -> bool:
        """The provider refused ``token_value`` (401, or 403 ``invalid_token``): drop it?

        Returns whether replaying the call with a newer token makes sense. A
        token already replaced: yes. Otherwise the token is dropped (and a new
        one fetched by the next :meth:`get`) at most once per
        :data:`REJECTION_INTERVAL`, fleet-wide: an endpoint that refuses every
        token then costs one token request per interval, not one per call.
        """
        slot = self._slot
        current = slot.token
        if current is not None and current.value != token_value:
            return True  # already replaced: the replay uses the new token
        now = clock.current.monotonic()
        if now < slot.quiet_until:
            return False  # this process dropped a token moments ago
        shared, _ = self._read_shared()
        if shared is not None and shared.value != token_value:
            self._adopt(shared)  # another process already replaced it
            return True
        claimed = token_cache.add(self.rejected_key, "1", REJECTION_INTERVAL)
        slot.quiet_until = now + REJECTION_INTERVAL
        if claimed is False:
            return False  # another process dropped one moments ago (and it was no better)
        self.invalidate(token_value)
        return True

    def invalidate(self, token_value: str | None = None) -> None:
        """Drop the token, everywhere.

        With ``token_value`` (compare-and-delete), only if it is still the stored
        token: a 401 proves *that* token dead, not the fresh one another worker
        may already have put in its place.
        """
        slot = self._slot
        with slot.lock:
            current = slot.token
            dead = token_value if token_value is not None else getattr(current, "value", None)
            # Never adopted again, even from a cache that answers before it is deleted there.
            slot.dropped = dead
            if current is not None and current.value == dead:
                slot.token = None
        if token_value is None:
            token_cache.delete(self.key)
        else:
            shared = Token.from_cache_value(token_cache.get(self.key), self.name, self.key)
            if shared is not None and shared.value == token_value:
                token_cache.delete(self.key)

    def clear(self) -> None:
        """Drop the token and any remembered failure for this credential (memory and cache)."""
        self.invalidate()
        self._forget_failures(self.lease_key, self.rejected_key)

    def _forget_failures(self, *more_keys: str) -> None:
        """Drop the remembered ``invalid_client``/``Retry-After`` blocks (memory and cache)."""
        keys = [self.invalid_key, self.backoff_key]
        for key in keys:
            self._slot.blocks.pop(key, None)
        token_cache.delete_many([*keys, *more_keys])
