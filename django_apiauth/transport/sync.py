"""The one place HTTP sessions are built: User-Agent, timeouts, retries, TLS and HTTPS policy.

Every request the app sends goes through an :class:`ApiSession`; :func:`without_secrets`
gives callers a transport error without the ``Authorization`` header its frames held.
"""

from __future__ import annotations

import threading
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, NewConnectionError, ResponseError
from urllib3.exceptions import TimeoutError as TimeoutError_
from urllib3.util.retry import Retry

from django_apiauth import __version__, forks
from django_apiauth.conf import InvalidSetting, api_settings, shown, validate_verify
from django_apiauth.exceptions import ConfigurationError
from django_apiauth.transport.endpoints import check_url_is_secure, without_userinfo

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
    "TOKEN_METHODS",
    "USER_AGENT",
    "PoliteRetry",
    "build_retry",
    "create_session",
    "is_timeout",
    "renamed",
    "without_secrets",
]

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

    Sleeping a minute would hang the worker: a longer one ends the retries and the
    answer is handed back, for the token store to honour fleet-wide.
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


def checked_verify(value: Any) -> bool | str:
    """``value`` if it is ``True`` or an existing CA bundle path, else ``ConfigurationError``.

    The validator of ``APIAUTH['VERIFY']`` decides, so ``False``, ``None``, ``0``, ``""``
    (an unset CA-bundle variable) and a missing file are refused per call too.
    """
    try:
        return validate_verify(value)
    except InvalidSetting:
        pass
    raise ConfigurationError(
        f"verify={shown(value)} is refused: TLS verification cannot be switched off for "
        "django-apiauth requests; pass True or the path of an existing CA bundle"
    )


class ApiSession(requests.Session):
    """A ``requests.Session`` that enforces the HTTPS policy, timeouts and TLS verification.

    ``send`` sees every request, redirect hops included, so the checks live there;
    ``request`` also refuses ``verify=None``, which ``requests`` reads as "the default".
    """

    default_timeout: Any = None

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if "verify" in kwargs:
            kwargs["verify"] = checked_verify(kwargs["verify"])
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        check_url_is_secure(request.url or "")
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout or api_settings.validated("TIMEOUT")
        verify = kwargs.get("verify", self.verify)
        if verify is not True:  # the hot path (True) costs nothing
            kwargs["verify"] = checked_verify(verify)
        return super().send(request, **kwargs)


def create_session(*, methods: frozenset[str] = IDEMPOTENT_METHODS, pool: int = 10) -> ApiSession:
    """A new session with the app's User-Agent, timeouts, retries and TLS settings.

    ``methods`` may be retried (the token store adds ``POST``, repeatable for it);
    ``pool``: connections kept per host (more run at once are closed after use).
    """
    session = ApiSession()
    # Validated here, at request time, by the validators the system checks run.
    session.verify = api_settings.validated("VERIFY")
    session.default_timeout = api_settings.validated("TIMEOUT")
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    adapter = HTTPAdapter(max_retries=build_retry(methods), pool_maxsize=pool)
    session.mount("https://", adapter)
    session.mount("http://", adapter)  # loopback only; send() enforces the policy
    return session


#: Sessions by ``pool_key``: one connection pool per host in this process.
_shared: dict[tuple, ApiSession] = {}
_shared_lock = threading.Lock()
forks.after_fork(_shared.clear)  # a child must not write to its parent's sockets
#: Shared sessions and clients serve many credentials: a cookie set for one must not ride along.
NO_COOKIES = DefaultCookiePolicy(allowed_domains=[])


def pool_key(endpoint: str) -> tuple:
    """``endpoint``'s origin and the settings a session is built from (new settings, new pool)."""
    parts = urlsplit(endpoint)
    policy = (repr(api_settings.validated(name)) for name in ("VERIFY", "TIMEOUT", "MAX_RETRIES"))
    return (parts.scheme, parts.netloc.lower(), *policy)


def shared_session(endpoint: str) -> ApiSession:
    """This process's session for ``endpoint``'s host, shared by the clients of every credential.

    Authentication is per request, never on the session; it keeps no cookies."""
    with _shared_lock:
        session = _shared.get(key := pool_key(endpoint))
        if session is None:
            # As many as the connectivity checker runs at once: every credential's calls share it.
            session = _shared[key] = create_session(pool=32)
            session.cookies.set_policy(NO_COOKIES)
            session.shared = True  # type: ignore[attr-defined]  (its clients do not close it)
    return session


def is_timeout(err: requests.RequestException) -> bool:
    """Whether a ``requests`` error is a timeout (connect or read)."""
    if isinstance(err, requests.Timeout):
        return True
    # After the last retry urllib3 wraps a read timeout in MaxRetryError, which
    # requests turns into a plain ConnectionError: look at the reason. (A refused
    # connection, NewConnectionError, subclasses urllib3's timeout error.)
    reason = getattr(err.args[0], "reason", None) if err.args else None
    return isinstance(reason, TimeoutError_) and not isinstance(reason, NewConnectionError)


def without_secrets(err: Exception, method: str, url: str) -> Exception:
    """The error to raise, in place of ``err``, to the caller of an authenticated call.

    The frames of ``requests`` and ``urllib3`` hold the ``Authorization`` header and
    error reports show every frame's variables; its text may quote a URL. So a
    ``requests`` error becomes a new one of the same class (``except requests.Timeout``
    still works) naming the method, host, path and cause; any other error loses its
    traceback and cause. The caller raises it outside its ``except`` block, ``from None``.
    """
    if not isinstance(err, requests.RequestException):
        err.__cause__ = err.__context__ = None
        return err.with_traceback(None)
    return renamed(err, requests.RequestException, method, url, timed_out=is_timeout(err))


def renamed(
    err: Exception, base: type[Exception], method: str, url: str, *, timed_out: bool
) -> Exception:
    """A new ``type(err)`` (else ``base``) naming the method, host, path and cause of ``err``."""
    parts = urlsplit(without_userinfo(url))
    cause = "timed out" if timed_out else f"failed ({type(err).__name__})"
    message = f"{method.upper()} {parts.netloc}{parts.path} {cause}"
    try:
        return type(err)(message)
    except Exception:  # a subclass with another signature (HTTPStatusError): the base will do
        return base(message)
