"""Access tokens shared by a whole fleet: process memory, then the Django cache, then the provider.

Lookup order for a credential's token:

1. **Process memory** — a dict lookup and a monotonic clock read; no cache
   round trip, no decryption. This is the path almost every call takes.
2. **The shared cache** (``caches[APIAUTH['CACHE_ALIAS']]``) — the token
   encrypted with the key ring, stored with ``TTL = expires_in - leeway``.
3. **The provider** — under a fleet-wide lease (``cache.add``) so that, however
   many processes and threads start at once, one of them asks.

Times: local decisions use ``time.monotonic`` (immune to wall-clock jumps);
the shared value carries a wall-clock expiry, because monotonic clocks are not
comparable between hosts. A value read from the cache is never trusted for
longer than the lifetime the provider granted, so a clock jumping backwards
cannot stretch it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import math
import os
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from . import crypto
from .conf import api_settings
from .exceptions import (
    ApiAuthError,
    DecryptionError,
    InvalidCredentialsError,
    TokenEndpointError,
    TokenError,
)
from .token_endpoint import MAX_LIFETIME, is_oauth_error_code, request_token

if TYPE_CHECKING:
    from .models import ApiCredential

log = logging.getLogger("django_apiauth.tokens")

#: Encryption context of shared-cache values: a token ciphertext cannot be
#: replayed into a credential column, nor the other way round.
CACHE_CONTEXT = "django_apiauth.token_cache"
#: How long an ``invalid_client`` answer is remembered, fleet-wide (seconds).
INVALID_CLIENT_MEMORY = 30
#: After a cache error the cache is left alone this long (seconds), so a dead
#: Redis costs one timeout now and then instead of one per call.
CACHE_RETRY_INTERVAL = 5.0
#: At most one "cache unavailable" warning per process in this many seconds.
CACHE_WARNING_INTERVAL = 60.0

# Module-level names (not ``time.monotonic`` inline) so tests can move the clocks.
_monotonic = time.monotonic
_wall = time.time
_sleep = time.sleep


class Token:
    """An access token as held in process memory. ``repr`` never shows the value.

    ``use_until`` and ``refresh_at`` are ``time.monotonic`` instants;
    ``expires_at_wall`` is the provider's expiry on the wall clock (for the
    shared cache); ``lifetime`` is the ``expires_in`` the provider granted.
    """

    __slots__ = ("expires_at_wall", "header", "lifetime", "refresh_at", "use_until", "value")

    def __init__(self, value: str, *, lifetime: float, expires_at: float, expires_at_wall: float):
        leeway = min(float(api_settings.EXPIRY_LEEWAY), lifetime / 4)
        margin = min(float(api_settings.REFRESH_MARGIN), lifetime / 4)
        self.value = value
        self.header = "Bearer " + value
        self.lifetime = lifetime
        self.expires_at_wall = expires_at_wall
        self.use_until = expires_at - leeway
        self.refresh_at = self.use_until - margin

    def __repr__(self) -> str:
        return f"<Token usable for {max(0.0, self.use_until - _monotonic()):.0f}s>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would put the token in clear into whatever stores the pickle.
        raise TypeError("Token objects are not picklable; the token store encrypts them")

    def postponed(self, delay: float) -> Token:
        """A copy whose next refresh attempt is ``delay`` seconds from now (never past use)."""
        copy = object.__new__(Token)
        for name in Token.__slots__:
            setattr(copy, name, getattr(self, name))
        copy.refresh_at = min(_monotonic() + delay, self.use_until)
        return copy


class _Block:
    """The provider said "stop asking for now" (``invalid_client`` or ``Retry-After``).

    ``until_wall`` is for the shared cache; this process decides on ``until_mono``,
    so a wall clock stepping back cannot stretch a block it holds.
    """

    __slots__ = ("error", "kind", "status_code", "until_mono", "until_wall")

    def __init__(self, kind: str, until_wall: float, status_code: int | None, error: str | None):
        self.kind = kind
        self.until_wall = until_wall
        self.until_mono = _monotonic() + (until_wall - _wall())
        self.status_code = status_code
        self.error = error

    def as_cache_value(self) -> dict[str, Any]:
        return {"until": self.until_wall, "status": self.status_code, "error": self.error}

    @classmethod
    def from_cache_value(cls, kind: str, value: Any) -> _Block | None:
        if not isinstance(value, dict):
            return None
        until = value.get("until")
        if not isinstance(until, (int, float)) or until <= _wall():
            return None
        # Whatever else is in the cache only ever reaches a message if it is well-formed.
        status, error = value.get("status"), value.get("error")
        return cls(
            kind,
            float(until),
            status if isinstance(status, int) else None,
            error if is_oauth_error_code(error) else None,
        )

    def exception(self, credential: str) -> TokenError:
        wait = max(1, math.ceil(self.until_mono - _monotonic()))
        if self.kind == "invalid":
            return InvalidCredentialsError(
                f"the provider refused the credentials of {credential!r} "
                f"({self.error or 'invalid_client'}) moments ago; not asking again for {wait}s",
                credential=credential,
                status_code=self.status_code,
                error=self.error,
            )
        return TokenEndpointError(
            f"the token endpoint asked to wait (HTTP {self.status_code}, Retry-After); "
            f"not asking again for credential {credential!r} for {wait}s",
            credential=credential,
            status_code=self.status_code,
        )


# --- process state -----------------------------------------------------------

_memory: dict[str, Token] = {}
_locks: dict[str, threading.Lock] = {}
_blocks: dict[str, _Block] = {}  # also kept locally so a dead cache still stops hammering
_cache_health = {"down_until": 0.0, "warned_at": -math.inf}


def clear_process_memory() -> None:
    """Forget every token and remembered failure held by this process (not the shared cache)."""
    _memory.clear()
    _blocks.clear()
    _cache_health.update(down_until=0.0, warned_at=-math.inf)


def _reset_locks_after_fork() -> None:
    # A lock held by another thread at fork time would never be released in the child.
    _locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting in {"APIAUTH", "CACHES", "SECRET_KEY"}:
        clear_process_memory()


# --- the shared cache, failing soft -----------------------------------------


def _shared_cache() -> Any | None:
    """The token cache, or ``None`` while it is considered down."""
    if _monotonic() < _cache_health["down_until"]:
        return None
    try:
        return caches[api_settings.CACHE_ALIAS]
    except Exception as err:  # a misconfigured alias must not break API calls either
        _cache_failed(err)
        return None


def _cache_failed(err: BaseException) -> None:
    now = _monotonic()
    _cache_health["down_until"] = now + CACHE_RETRY_INTERVAL
    if now - _cache_health["warned_at"] >= CACHE_WARNING_INTERVAL:
        _cache_health["warned_at"] = now
        # Only the class name: a cache error's text may contain a URL with a password.
        log.warning(
            "the token cache %r is unavailable (%s); tokens are kept in process memory "
            "and fetched directly until it is back",
            api_settings.CACHE_ALIAS,
            type(err).__name__,
        )


# --- keys --------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _fingerprint_key(ring_key: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"django-apiauth:token-fingerprint"
    ).derive(ring_key)


def fingerprint(base_url: str, api_key: str, api_secret: str) -> str:
    """A keyed hash of what identifies a token: editing any part orphans the old token.

    Keyed with a sub-key of the primary ring key, so the cache key reveals nothing
    about the secret, even to someone who can list the cache's keys.
    """
    key = _fingerprint_key(crypto.get_key_ring().primary.raw)
    message = json.dumps([base_url, api_key, api_secret]).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


# --- the store ---------------------------------------------------------------


class _NoCacheLease:
    """Stands for a lease when the cache is down: the process lock is all we have."""


_NO_CACHE_LEASE = _NoCacheLease()


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

    def __repr__(self) -> str:
        return f"<TokenStore credential={self.name!r}>"

    # -- reading ---------------------------------------------------------------

    def get(self) -> Token:
        """A usable token: from memory when fresh, else the shared cache, else the provider."""
        token = _memory.get(self.key)
        if token is not None:
            now = _monotonic()
            if now < token.refresh_at:
                return token
            if now < token.use_until:
                return self._slow_path(token, wait=False)
        return self._slow_path(None, wait=True)

    def access_token(self) -> str:
        """The current access token as a string (see :meth:`get`)."""
        return self.get().value

    def cached(self) -> Token | None:
        """The token held in process memory, if any (no I/O)."""
        return _memory.get(self.key)

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
            now = _monotonic()
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
        if shared is not None and _monotonic() < shared.refresh_at:
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
            self._release_lease(lease)

    def _wait_for_fleet(self) -> Token | str | _NoCacheLease | None:
        """Poll the cache while another process fetches; our own lease if the holder died."""
        deadline = _monotonic() + float(api_settings.LOCK_TIMEOUT) + 1.0
        pause = 0.02
        while _monotonic() < deadline:
            _sleep(pause)
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
        sent_mono, sent_wall = _monotonic(), _wall()
        try:
            grant = request_token(
                credential=self.name,
                endpoint=self.endpoint,
                api_key=credential.api_key,
                api_secret=credential.api_secret,
            )
        except TokenError as err:
            self._remember_failure(err)
            if fallback is not None and _monotonic() < fallback.use_until:
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
        self._write_shared(token)
        return token

    def _remember_failure(self, err: TokenError) -> None:
        if isinstance(err, InvalidCredentialsError) and err.error == "invalid_client":
            block = _Block("invalid", _wall() + INVALID_CLIENT_MEMORY, err.status_code, err.error)
            self._store_block(self.invalid_key, block)
        retry_after = getattr(err, "retry_after", None)
        if retry_after:
            self._store_block(
                self.backoff_key, _Block("backoff", _wall() + retry_after, err.status_code, None)
            )

    def _store_block(self, key: str, block: _Block) -> None:
        _blocks[key] = block
        cache = _shared_cache()
        if cache is None:
            return
        try:
            cache.set(
                key,
                block.as_cache_value(),
                timeout=max(1, math.ceil(block.until_mono - _monotonic())),
            )
        except Exception as err:
            _cache_failed(err)

    def _remember(self, token: Token) -> Token:
        _memory[self.key] = token
        return token

    def _postpone(self, token: Token, delay: float | None = None) -> Token:
        if delay is None:
            # Retry a failed refresh a few times within the remaining validity, not on every call.
            delay = max(0.05, min(5.0, (token.use_until - _monotonic()) / 8))
        return self._remember(token.postponed(delay))

    @staticmethod
    def _latest(*tokens: Token | None) -> Token | None:
        now = _monotonic()
        usable = [t for t in tokens if t is not None and now < t.use_until]
        return max(usable, key=lambda t: t.use_until, default=None)

    # -- the shared cache --------------------------------------------------------

    def _read_shared(self) -> tuple[Token | None, _Block | None]:
        block = self._local_block()
        cache = _shared_cache()
        if cache is None:
            return None, block
        try:
            values = cache.get_many([self.key, self.invalid_key, self.backoff_key])
        except Exception as err:
            _cache_failed(err)
            return None, block
        block = (
            _Block.from_cache_value("invalid", values.get(self.invalid_key))
            or _Block.from_cache_value("backoff", values.get(self.backoff_key))
            or block
        )
        return self._decode(values.get(self.key)), block

    def _local_block(self) -> _Block | None:
        for key in (self.invalid_key, self.backoff_key):
            block = _blocks.get(key)
            if block is not None:
                if block.until_mono > _monotonic():
                    return block
                _blocks.pop(key, None)
        return None

    def _decode(self, stored: Any) -> Token | None:
        if not isinstance(stored, str):
            return None
        try:
            data = json.loads(crypto.decrypt(stored, context=CACHE_CONTEXT))
            value, expires_wall, lifetime = str(data["t"]), float(data["exp"]), float(data["life"])
        except (ApiAuthError, DecryptionError, ValueError, KeyError, TypeError):
            log.debug("ignoring an unreadable shared token for %r", self.name)
            return None
        if not value or not 0 < lifetime <= MAX_LIFETIME:
            return None
        # Trust the wall clock only as far as the granted lifetime: a clock that
        # jumped back must not stretch a token, one that jumped ahead only shortens it.
        remaining = min(expires_wall - _wall(), lifetime)
        token = Token(
            value,
            lifetime=lifetime,
            expires_at=_monotonic() + remaining,
            expires_at_wall=expires_wall,
        )
        return token if _monotonic() < token.use_until else None

    def _write_shared(self, token: Token) -> None:
        ttl = math.ceil(token.use_until - _monotonic())
        cache = _shared_cache()
        if cache is None or ttl <= 0:
            return
        payload = json.dumps(
            {"t": token.value, "exp": token.expires_at_wall, "life": token.lifetime}
        )
        try:
            cache.set(self.key, crypto.encrypt(payload, context=CACHE_CONTEXT), timeout=ttl)
        except Exception as err:
            _cache_failed(err)

    def _acquire_lease(self) -> str | _NoCacheLease | None:
        cache = _shared_cache()
        if cache is None:
            return _NO_CACHE_LEASE
        owner = uuid.uuid4().hex
        try:
            # Whole seconds, at least one: a cache timeout of 0 means "already expired".
            timeout = max(1, math.ceil(float(api_settings.LOCK_TIMEOUT)))
            added = cache.add(self.lease_key, owner, timeout=timeout)
        except Exception as err:
            _cache_failed(err)
            return _NO_CACHE_LEASE
        return owner if added else None

    def _release_lease(self, lease: str | _NoCacheLease | None) -> None:
        if not isinstance(lease, str):
            return
        # Tried even while the cache is marked down: it answered the ``add`` moments
        # ago, and a lease left behind after a blip (a failed token write, say)
        # makes every other process wait up to LOCK_TIMEOUT for nothing.
        try:
            cache = caches[api_settings.CACHE_ALIAS]
            # Only our own lease: if it expired and someone else took it, leave theirs.
            if cache.get(self.lease_key) == lease:
                cache.delete(self.lease_key)
        except Exception as err:
            _cache_failed(err)

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
        cache = _shared_cache()
        if cache is not None:
            try:
                shared = self._decode(cache.get(self.key)) if token_value is not None else None
                if token_value is None or (shared is not None and shared.value == token_value):
                    cache.delete(self.key)
            except Exception as err:
                _cache_failed(err)
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
        cache = _shared_cache()
        if cache is None:
            return
        try:
            cache.delete_many([*keys, *more_keys])
        except Exception as err:
            _cache_failed(err)
