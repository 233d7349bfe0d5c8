"""How long a token fetch can take at worst, and so how long a cold caller waits.

The system checks hold the settings against the same budget (E022-E024).
"""

from __future__ import annotations

from django_apiauth.conf import api_settings
from django_apiauth.exceptions import TokenEndpointError

__all__ = ["cold_wait_limit", "fetch_budget", "no_token_in_time"]


def fetch_budget() -> float:
    """The longest a token fetch can take: every attempt running into both timeouts."""
    timeout = api_settings.validated("TIMEOUT")
    per_attempt = sum(timeout) if isinstance(timeout, tuple) else 2 * timeout
    return (api_settings.validated("MAX_RETRIES") + 1) * per_attempt


def cold_wait_limit() -> float:
    """How long a caller with no usable token waits for one before giving up.

    A fetch of its own (the whole budget), after a lease holder that died just
    before (the lease's lifetime), plus a second for the bookkeeping.
    """
    return fetch_budget() + api_settings.validated("LOCK_TIMEOUT") + 1.0


def no_token_in_time(credential: str, limit: float) -> TokenEndpointError:
    """The error of a caller that waited ``limit`` seconds (:func:`cold_wait_limit`) in vain."""
    return TokenEndpointError(
        f"no access token for credential {credential!r} within {limit:.0f}s "
        "(the token endpoint, or the process holding the fleet lease, does not answer)",
        credential=credential,
    )
