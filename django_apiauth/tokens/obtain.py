"""The *obtain*: one background thread per credential per process gets a new token.

It adopts a token another process shared, or fetches one under the fleet lease,
and settles the callers waiting on the slot's future. No lock is held across I/O.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from django_apiauth import clock, telemetry
from django_apiauth.conf import api_settings
from django_apiauth.exceptions import TokenError
from django_apiauth.tokens import background, shared_cache, timing
from django_apiauth.tokens.endpoint import request_token
from django_apiauth.tokens.shared_cache import NoCacheLease
from django_apiauth.tokens.values import Block, CacheKeys, Token, new_token

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential
    from django_apiauth.tokens.failures import Failures
    from django_apiauth.tokens.memory import Slot

__all__ = ["Obtainer"]

log = logging.getLogger("django_apiauth.tokens.store")

#: Longest pause between two looks at the shared cache while waiting (seconds).
LONGEST_POLL = 0.25


class Obtainer:
    """This process's way to a new token for one credential (see the module docstring)."""

    def __init__(
        self,
        credential: ApiCredential,
        slot: Slot,
        failures: Failures,
        *,
        endpoint: str,
        keys: CacheKeys,
    ) -> None:
        self.credential = credential
        self.name = credential.name
        self.endpoint = endpoint
        self.slot = slot
        self.failures = failures
        self.key = keys.token
        self.lease_key = keys.lease

    # -- for callers ---------------------------------------------------------------

    def start(self) -> None:
        """Start an obtain unless one runs (a refresh nobody waits for)."""
        with self.slot.lock:
            self._start_locked()

    def pending(self) -> Future[Token]:
        """The in-flight obtain's future, the obtain started if none runs."""
        slot = self.slot
        with slot.lock:
            future = slot.future
            if future is None:
                future = slot.future = background.running_future()
            self._start_locked()
        return future

    def wait(self) -> Token:
        """Wait for the obtain, at most the cold-wait limit."""
        limit = timing.cold_wait_limit()
        telemetry.token_wait(self.name)
        try:
            return self.pending().result(timeout=limit)
        except FutureTimeout:
            raise timing.no_token_in_time(self.name, limit) from None

    def read_shared(self) -> tuple[Token | None, Block | None]:
        """The token in the shared cache (if any, and not one we dropped) and the block in force."""
        shared, values = self.read_shared_values()
        return shared, self.failures.block(values)

    def read_shared_values(self) -> tuple[Token | None, dict]:
        """The shared token and every remembered failure of the credential, in one round trip."""
        values = shared_cache.get_many([self.key, *self.failures.keys])
        shared = Token.from_cache_value(values.get(self.key), self.name, self.key)
        if shared is not None and self.slot.is_dead(shared):
            shared = None  # a dead token still in a cache that missed the delete
        return shared, values

    def fetch(self, fallback: Token | None) -> Token:
        """A new token from the provider, held and shared; or ``fallback`` postponed on failure."""
        credential = self.credential
        # Expiry counts from when the request was *sent*: the provider's clock started then.
        sent_mono, sent_wall = clock.current.monotonic(), clock.current.wall()
        try:
            with telemetry.token_request(self.name, self.endpoint):
                grant = request_token(
                    credential=self.name,
                    endpoint=self.endpoint,
                    api_key=credential.api_key,
                    api_secret=credential.api_secret,
                )
        except TokenError as err:
            self.failures.remember(err)
            if fallback is not None and clock.current.monotonic() < fallback.use_until:
                # The current token is still good: keep serving it, try again later.
                log.warning(
                    "refreshing the access token of %r failed (%s); the current token stays in use",
                    self.name,
                    type(err).__name__,
                )
                return self.slot.postpone(fallback)
            raise
        latency = self.slot.measured(clock.current.monotonic() - sent_mono)
        token = new_token(
            grant.value,
            lifetime=grant.lifetime,
            expires_at=sent_mono + grant.lifetime,
            expires_at_wall=sent_wall + grant.lifetime,
            latency=latency,
        )
        with self.slot.lock:
            self.slot.token = token  # just fetched: newer than anything held
        ttl = token.use_until - clock.current.monotonic()
        if ttl > 0:
            shared_cache.set(self.key, token.as_cache_value(self.key), ttl)
        return token

    # -- the obtain (a background thread) --------------------------------------------

    def _start_locked(self) -> None:
        if not self.slot.running:
            self.slot.running = True
            background.start(self._run, name=f"apiauth-token-{self.name}")

    def _run(self) -> None:
        """Obtain a token and settle whoever waits for it (an early adopt may have already)."""
        slot = self.slot
        outcome = background.outcome_of(self._obtain)
        with slot.lock:
            future, slot.future = slot.future, None
            slot.running = False
        if future is not None:
            background.settle(future, outcome)

    def _obtain(self) -> Token:
        """Adopt the shared token, or fetch under the fleet lease; never in a caller's thread."""
        slot = self.slot
        current = slot.usable()
        now = clock.current.monotonic()
        if current is not None and now < current.refresh_at:
            return current  # fresh already (a refresh finished just before this obtain)
        shared, block = self.read_shared()
        if shared is not None and now < shared.refresh_at:
            return slot.adopt(shared)
        later = clock.current.monotonic()
        usable = [t for t in (current, shared) if t is not None and later < t.use_until]
        fallback = max(usable, key=lambda t: t.use_until, default=None)
        if fallback is not None and current is None:
            slot.adopt(fallback)  # usable meanwhile (in its refresh window): waiters go
        if block is not None:
            return self._blocked(block, fallback)
        lease = self._acquire_lease()
        if lease is None:
            waited = self._wait_for_fleet()
            if isinstance(waited, Token):
                return waited
            lease = waited  # the holder died or gave up: our turn (or no lease at all)
        try:
            if isinstance(lease, str):
                # The holder before us may have shared its token (or its failure) and given
                # the lease back between our last look and our lease: a look under the lease
                # is what makes "one fetch per fleet" hold, for one more round trip per fetch.
                shared, block = self.read_shared()
                if shared is not None and clock.current.monotonic() < shared.refresh_at:
                    return slot.adopt(shared)
                if block is not None:
                    return self._blocked(block, fallback)
            return self._fetch_supervised(lease, fallback)
        finally:
            shared_cache.release_lease(self.lease_key, lease)

    def _blocked(self, block: Block, fallback: Token | None) -> Token:
        """A remembered refusal is in force: keep a usable token, or raise the refusal."""
        if fallback is not None:
            return self.slot.postpone(fallback)
        raise block.exception(self.name)

    def _acquire_lease(self) -> str | NoCacheLease | None:
        return shared_cache.acquire_lease(self.lease_key, api_settings.validated("LOCK_TIMEOUT"))

    def _wait_for_fleet(self) -> Token | str | NoCacheLease | None:
        """Poll the cache while another process fetches; our own lease if the holder died."""
        now = clock.current
        deadline = now.monotonic() + api_settings.validated("LOCK_TIMEOUT") + 1.0
        pause = 0.02
        while now.monotonic() < deadline:
            now.sleep(pause)
            pause = min(pause * 1.5, LONGEST_POLL)
            shared, block = self.read_shared()
            if shared is not None and now.monotonic() < shared.refresh_at:
                return self.slot.adopt(shared)
            if block is not None:
                return self._blocked(block, self.slot.usable())
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
        fetch = background.start(self.fetch, fallback, name=f"apiauth-fetch-{self.name}")
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
                shared_cache.renew_lease(self.lease_key, lease, lease_time)
            if self.slot.usable() is None:
                shared, _ = self.read_shared()
                if shared is not None:
                    self.slot.adopt(shared)
