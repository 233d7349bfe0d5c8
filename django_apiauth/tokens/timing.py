"""How the token store's time budgets relate: fetch, lease, refresh window, cache.

One place that knows how long a token fetch can take at worst and which
settings cannot hold together, for the store (how long a cold caller waits)
and for the system checks (which refuse contradictory settings).
"""

from __future__ import annotations

from typing import NamedTuple

from django.utils.translation import gettext as _

from django_apiauth.conf import api_settings
from django_apiauth.exceptions import TokenEndpointError

__all__ = ["cold_wait_limit", "conflicts", "no_token_in_time"]


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


class Conflict(NamedTuple):
    """A system check's error, in the active language (only the checks show it)."""

    check_id: str
    message: str
    hint: str


def conflicts() -> list[Conflict]:
    """Settings that contradict each other (empty when any of them is invalid by itself)."""
    try:
        margin = api_settings.validated("REFRESH_MARGIN")
        lease = api_settings.validated("LOCK_TIMEOUT")
        cache = api_settings.validated("CACHE_TIMEOUT")
        budget = fetch_budget()
    except Exception:  # reported by the setting's own check
        return []
    found = []
    if lease >= margin:
        found.append(
            Conflict(
                "django_apiauth.E022",
                _(
                    "APIAUTH['LOCK_TIMEOUT'] (%(lease)gs) is not shorter than "
                    "APIAUTH['REFRESH_MARGIN'] (%(margin)gs): when the process refreshing a "
                    "token dies, its lease outlives the refresh window and callers wait for it."
                )
                % {"lease": lease, "margin": margin},
                _("Make LOCK_TIMEOUT shorter than REFRESH_MARGIN (defaults: 10 and 60)."),
            )
        )
    if budget >= margin:
        found.append(
            Conflict(
                "django_apiauth.E023",
                _(
                    "A token fetch may take up to %(budget)gs ((MAX_RETRIES + 1) x the "
                    "connect + read TIMEOUT), not less than APIAUTH['REFRESH_MARGIN'] "
                    "(%(margin)gs): a slow refresh would end after the token, and callers wait."
                )
                % {"budget": budget, "margin": margin},
                _("Lower TIMEOUT or MAX_RETRIES, or raise REFRESH_MARGIN above the fetch budget."),
            )
        )
    if 6 * cache >= lease:
        found.append(
            Conflict(
                "django_apiauth.E024",
                _(
                    "APIAUTH['CACHE_TIMEOUT'] (%(cache)gs) is too long for "
                    "APIAUTH['LOCK_TIMEOUT'] (%(lease)gs): the lease is renewed every third of "
                    "its lifetime, with two cache calls each time."
                )
                % {"cache": cache, "lease": lease},
                _("Keep CACHE_TIMEOUT under a sixth of LOCK_TIMEOUT (defaults: 0.25 and 10)."),
            )
        )
    return found
