"""The values the token store keeps: a :class:`Token`, and a :class:`Block` ("stop asking").

Both live in process memory on the monotonic clock and travel through the
shared cache with a wall-clock instant (monotonic clocks are not comparable
between hosts); each knows how to turn itself into a cache value and back.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from . import clock, crypto
from .conf import api_settings
from .exceptions import (
    ApiAuthError,
    InvalidCredentialsError,
    TokenEndpointError,
    TokenError,
)
from .token_endpoint import MAX_LIFETIME, is_oauth_error_code

log = logging.getLogger("django_apiauth.tokens")

#: Encryption context of shared-cache values: a token ciphertext cannot be
#: replayed into a credential column, nor the other way round.
CACHE_CONTEXT = "django_apiauth.token_cache"


class Token:
    """An access token as held in process memory. ``repr`` never shows the value.

    ``use_until`` and ``refresh_at`` are monotonic instants;
    ``expires_at_wall`` is the provider's expiry on the wall clock (for the
    shared cache); ``lifetime`` is the ``expires_in`` the provider granted.
    """

    __slots__ = ("expires_at_wall", "header", "lifetime", "refresh_at", "use_until", "value")

    def __init__(self, value: str, *, lifetime: float, expires_at: float, expires_at_wall: float):
        leeway = min(api_settings.validated("EXPIRY_LEEWAY"), lifetime / 4)
        margin = min(api_settings.validated("REFRESH_MARGIN"), lifetime / 4)
        self.value = value
        self.header = "Bearer " + value
        self.lifetime = lifetime
        self.expires_at_wall = expires_at_wall
        self.use_until = expires_at - leeway
        self.refresh_at = self.use_until - margin

    def __repr__(self) -> str:
        return f"<Token usable for {max(0.0, self.use_until - clock.current.monotonic()):.0f}s>"

    __str__ = __repr__

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

    def as_cache_value(self) -> str:
        """The token encrypted with the key ring, with what a reader needs to time it."""
        payload = json.dumps({"t": self.value, "exp": self.expires_at_wall, "life": self.lifetime})
        return crypto.encrypt(payload, context=CACHE_CONTEXT)

    @classmethod
    def from_cache_value(cls, stored: Any, credential: str) -> Token | None:
        """The token in a shared-cache value, or ``None`` if unreadable or no longer usable."""
        if not isinstance(stored, str):
            return None
        try:
            data = json.loads(crypto.decrypt(stored, context=CACHE_CONTEXT))
            value, expires_wall, lifetime = str(data["t"]), float(data["exp"]), float(data["life"])
        except (ApiAuthError, ValueError, KeyError, TypeError):
            log.debug("ignoring an unreadable shared token for %r", credential)
            return None
        if not value or not 0 < lifetime <= MAX_LIFETIME:
            return None
        # Trust the wall clock only as far as the granted lifetime: a clock that
        # jumped back must not stretch a token, one that jumped ahead only shortens it.
        now = clock.current
        remaining = min(expires_wall - now.wall(), lifetime)
        token = cls(
            value,
            lifetime=lifetime,
            expires_at=now.monotonic() + remaining,
            expires_at_wall=expires_wall,
        )
        return token if now.monotonic() < token.use_until else None


class Block:
    """The provider said "stop asking for now" (``invalid_client`` or ``Retry-After``).

    ``until_wall`` is for the shared cache; this process decides on ``until_mono``,
    so a wall clock stepping back cannot stretch a block it holds.
    """

    __slots__ = ("error", "kind", "status_code", "until_mono", "until_wall")

    def __init__(self, kind: str, until_wall: float, status_code: int | None, error: str | None):
        self.kind = kind
        self.until_wall = until_wall
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
        if not isinstance(until, (int, float)) or until <= clock.current.wall():
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
