"""The values the token store keeps — :class:`Token`, :class:`Block`, :class:`CacheKeys`.

They live on the monotonic clock and travel through the shared cache with a
wall-clock instant, encrypted and bound to their cache key; nothing read back
is trusted further than this app would have written it.
"""

from __future__ import annotations

import json
import logging
import math
import random
from typing import Any

from django_apiauth import clock, crypto
from django_apiauth.conf import api_settings
from django_apiauth.exceptions import (
    ApiAuthError,
    InvalidCredentialsError,
    TokenEndpointError,
    TokenError,
)
from django_apiauth.tokens.endpoint import MAX_LIFETIME, MAX_RETRY_AFTER, is_oauth_error_code

__all__ = [
    "CACHE_CONTEXT",
    "INVALID_CLIENT_MEMORY",
    "Block",
    "CacheKeys",
    "Token",
    "new_token",
]

log = logging.getLogger("django_apiauth.tokens.store")

#: Encryption context of shared-cache values: a token ciphertext cannot be
#: replayed into a credential column, nor the other way round.
CACHE_CONTEXT = "django_apiauth.tokens.shared_cache"

#: How long an ``invalid_client`` answer is remembered, fleet-wide (seconds);
#: also the most any ``invalid_client`` block read from the cache is honoured.
INVALID_CLIENT_MEMORY = 30
#: The refresh starts this many measured fetch latencies before the token goes out of use.
LATENCY_FACTOR = 2.0
#: Up to this fraction is added at random, so the processes of a fleet do not all
#: reach for the lease at the same instant.
REFRESH_JITTER = 0.25


def new_token(
    value: str, *, lifetime: float, expires_at: float, expires_at_wall: float, latency: float = 0.0
) -> Token:
    """A :class:`Token` with the leeway and the refresh margin of the settings.

    The margin is at least ``REFRESH_MARGIN``; more when fetching takes longer (twice
    the measured latency, plus jitter), so the refresh is done before anyone needs it;
    never more than a quarter of the lifetime, so a short-lived token is not refreshed
    on every call (nor the fleet fetching 1.7 times per lifetime).
    """
    sized = LATENCY_FACTOR * latency * (1 + REFRESH_JITTER * random.random())  # noqa: S311 - jitter, not a secret
    return Token(
        value,
        lifetime=lifetime,
        expires_at=expires_at,
        expires_at_wall=expires_at_wall,
        latency=latency,
        leeway=api_settings.validated("EXPIRY_LEEWAY"),
        margin=min(max(api_settings.validated("REFRESH_MARGIN"), sized), lifetime / 4),
    )


class Token:
    """An access token as held in process memory. ``repr`` never shows the value.

    ``use_until``, ``refresh_at`` and ``issued_at`` are monotonic instants,
    ``expires_at_wall`` the provider's expiry on the wall clock (for the shared
    cache); ``latency`` is how long fetching it took, ``proven`` whether a call
    made with it was answered, here. :func:`new_token` applies the settings.
    """

    __slots__ = (
        "expires_at_wall",
        "header",
        "issued_at",
        "latency",
        "lifetime",
        "proven",
        "refresh_at",
        "use_until",
        "value",
    )

    def __init__(
        self,
        value: str,
        *,
        lifetime: float,
        expires_at: float,
        expires_at_wall: float,
        latency: float,
        leeway: float,
        margin: float,
    ):
        self.value = value
        self.header = "Bearer " + value
        self.lifetime = lifetime
        self.latency = latency
        self.expires_at_wall = expires_at_wall
        self.issued_at = expires_at - lifetime
        self.use_until = expires_at - min(leeway, lifetime / 4)
        self.refresh_at = self.use_until - margin
        self.proven = False

    def __repr__(self) -> str:
        return f"<Token usable for {max(0.0, self.use_until - clock.current.monotonic()):.0f}s>"

    def __reduce__(self) -> Any:
        # Pickling would put the token in clear into whatever stores the pickle.
        raise TypeError("Token objects are not picklable; the token store encrypts them")

    def postponed(self, delay: float) -> Token:
        """A copy whose next refresh attempt is ``delay`` seconds from now (never past use)."""
        copy = object.__new__(Token)
        for name in Token.__slots__:
            setattr(copy, name, getattr(self, name))
        copy.refresh_at = min(clock.current.monotonic() + delay, self.use_until)
        return copy

    def as_cache_value(self, key: str) -> str:
        """The token encrypted with the key ring, bound to the cache ``key`` it is stored under.

        The key travels inside the authenticated ciphertext: a value copied under
        another credential's key (by someone with access to the cache) is refused.
        """
        payload = json.dumps(
            {
                "k": key,
                "t": self.value,
                "exp": self.expires_at_wall,
                "life": self.lifetime,
                "lat": self.latency,
            }
        )
        return crypto.encrypt(payload, context=CACHE_CONTEXT)

    @classmethod
    def from_cache_value(cls, stored: Any, credential: str, key: str) -> Token | None:
        """The token in the value stored under ``key``, or ``None`` if unreadable or unusable."""
        if not isinstance(stored, str):
            return None
        try:
            data = json.loads(crypto.decrypt(stored, context=CACHE_CONTEXT))
            value, expires_wall, lifetime = str(data["t"]), float(data["exp"]), float(data["life"])
            latency = min(max(float(data.get("lat", 0.0)), 0.0), lifetime)
            bound_to = data["k"]
        except (ApiAuthError, ValueError, KeyError, TypeError, AttributeError):
            log.debug("ignoring an unreadable shared token for %r", credential)
            return None
        if bound_to != key:
            log.warning(
                "ignoring a shared token of %r stored under another cache key (copied there?)",
                credential,
            )
            return None
        if not value or not 0 < lifetime <= MAX_LIFETIME:
            return None
        # Trust the wall clock only as far as the granted lifetime: a clock that
        # jumped back must not stretch a token, one that jumped ahead only shortens it.
        now = clock.current
        remaining = min(expires_wall - now.wall(), lifetime)
        token = new_token(
            value,
            lifetime=lifetime,
            expires_at=now.monotonic() + remaining,
            expires_at_wall=expires_wall,
            latency=latency,
        )
        return token if now.monotonic() < token.use_until else None


class CacheKeys:
    """The shared-cache keys of one credential, named once.

    The token and its lease are per row and fingerprint (an edit orphans them);
    what the provider refused is per fingerprint, whichever row holds it.
    """

    __slots__ = ("backoff", "invalid", "lease", "rejected", "token")
    prefix = "django_apiauth:token:"

    def __init__(self, pk: object, fingerprint: str) -> None:
        self.token = f"{self.prefix}{pk}:{fingerprint}"
        self.lease = self.token + ":lease"
        self.invalid = f"{self.prefix}invalid:{fingerprint}"
        self.backoff = f"{self.prefix}backoff:{fingerprint}"
        self.rejected = f"{self.prefix}rejected:{fingerprint}"

    def __repr__(self) -> str:
        return f"<CacheKeys {self.token}>"


class Block:
    """The provider said "stop asking for now" (``invalid_client`` or ``Retry-After``).

    ``until_wall`` is for the shared cache; this process decides on ``until_mono``,
    so a wall clock stepping back cannot stretch a block it holds. A block lasts
    at most :data:`INVALID_CLIENT_MEMORY` (``"invalid"``) or ``MAX_RETRY_AFTER``
    (``"backoff"``) seconds from now, whatever ``until_wall`` says: a value
    forged in the cache cannot stop the fleet for longer.
    """

    __slots__ = ("error", "kind", "status_code", "until_mono", "until_wall")

    def __init__(self, kind: str, until_wall: float, status_code: int | None, error: str | None):
        longest = INVALID_CLIENT_MEMORY if kind == "invalid" else MAX_RETRY_AFTER
        self.kind = kind
        self.until_wall = until_wall = min(until_wall, clock.current.wall() + longest)
        self.until_mono = clock.current.monotonic() + (until_wall - clock.current.wall())
        self.status_code = status_code
        self.error = error

    def seconds_left(self) -> float:
        return self.until_mono - clock.current.monotonic()

    def as_cache_value(self) -> dict[str, Any]:
        return {"until": self.until_wall, "status": self.status_code, "error": self.error}

    @classmethod
    def from_cache_value(cls, kind: str, value: Any) -> Block | None:
        if not isinstance(value, dict):
            return None
        until = value.get("until")
        if (
            not isinstance(until, (int, float))
            or isinstance(until, bool)
            or not math.isfinite(until)
            or until <= clock.current.wall()
        ):
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
        wait = max(1, math.ceil(self.seconds_left()))
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
