"""The one place HTTP sessions are built: User-Agent, timeouts, retries, TLS and HTTPS policy.

Every request the app sends (token fetches and API calls) goes through an
:class:`ApiSession`, which re-checks the HTTPS policy on *every* URL it sends
to (redirect hops included), always applies a timeout and refuses to switch
TLS verification off.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from . import __version__
from .conf import api_settings
from .endpoints import check_url_is_secure
from .exceptions import ConfigurationError

USER_AGENT = f"django-apiauth/{__version__} python-requests/{requests.__version__}"

#: Statuses worth retrying: rate limiting and server-side failures. Never 400/401,
#: which a retry cannot fix (and which would multiply the provider's audit noise).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Methods an API call may be retried with: only idempotent ones.
IDEMPOTENT_METHODS = Retry.DEFAULT_ALLOWED_METHODS

#: The token POST only asks for a new token, so repeating it is safe.
TOKEN_METHODS = IDEMPOTENT_METHODS | {"POST"}


class PoliteRetry(Retry):
    """urllib3 ``Retry`` that waits out a *short* ``Retry-After`` but never a long one.

    Sleeping for a minute inside a web request would hang the worker; instead a
    ``Retry-After`` above :attr:`MAX_RETRY_AFTER` ends the retries and the answer
    is handed back, so the caller (the token store) can honour it fleet-wide
    without blocking anyone.
    """

    #: Longest ``Retry-After`` (seconds) waited for inside one call.
    MAX_RETRY_AFTER = 2.0
    #: 413 is in urllib3's default set; a too-large body does not shrink by retrying.
    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def get_retry_after(self, response: Any) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None  # a garbled header means "no advice", not a crash

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, **kw):
        if response is not None and self.respect_retry_after_header:
            retry_after = self.get_retry_after(response)
            if retry_after is not None and retry_after > self.MAX_RETRY_AFTER:
                # With raise_on_status=False urllib3 turns this into "return the response".
                raise MaxRetryError(_pool, url, ResponseError("Retry-After too long to wait"))
        return super().increment(method, url, response, error, _pool, **kw)


def build_retry(methods: frozenset[str], total: int | None = None) -> Retry:
    """The retry policy: exponential backoff with jitter, at most ``MAX_RETRIES`` retries."""
    retries = api_settings.validated("MAX_RETRIES") if total is None else total
    return PoliteRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=methods,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=0.2,
        backoff_jitter=0.2,
        backoff_max=3.0,
        raise_on_status=False,
        raise_on_redirect=False,
        respect_retry_after_header=True,
    )


class ApiSession(requests.Session):
    """A ``requests.Session`` that enforces the HTTPS policy, timeouts and TLS verification.

    ``send`` is the one method every request passes through, redirect hops
    included, so the checks live there.
    """

    default_timeout: Any = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        check_url_is_secure(request.url or "")
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout or api_settings.validated("TIMEOUT")
        if kwargs.get("verify", self.verify) is False:
            raise ConfigurationError(
                "TLS verification cannot be switched off for django-apiauth requests"
            )
        return super().send(request, **kwargs)


def create_session(*, methods: frozenset[str] = IDEMPOTENT_METHODS) -> ApiSession:
    """A new session with the app's User-Agent, timeouts, retries and TLS settings.

    ``methods`` are the HTTP methods that may be retried (idempotent ones by
    default; the token store adds ``POST`` for its own, repeatable, request).
    """
    session = ApiSession()
    # Validated here, at request time, by the validators the system checks run.
    session.verify = api_settings.validated("VERIFY")
    session.default_timeout = api_settings.validated("TIMEOUT")
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    adapter = HTTPAdapter(max_retries=build_retry(methods))
    session.mount("https://", adapter)
    session.mount("http://", adapter)  # loopback only; send() enforces the policy
    return session
