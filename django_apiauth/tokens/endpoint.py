"""The provider's token endpoint: one ``client_credentials`` request, and its answer checked.

No caching and no clocks here (the token store owns both): :func:`request_token`
sends the request and turns the answer into a :class:`Grant` or one of the
``TokenError`` subclasses, whose messages name the credential and the cause,
never a secret, a token or a response body.
"""

from __future__ import annotations

import logging
import math
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests

from django_apiauth.conf import api_settings
from django_apiauth.exceptions import (
    ApiAuthError,
    ConfigurationError,
    InvalidCredentialsError,
    MalformedTokenResponseError,
    TokenEndpointError,
)
from django_apiauth.transport.basic import utf8_basic_auth
from django_apiauth.transport.endpoints import check_host_is_allowed, without_userinfo

__all__ = ["MAX_LIFETIME", "MAX_RETRY_AFTER", "is_oauth_error_code", "request_token"]

log = logging.getLogger("django_apiauth.tokens.store")


class Grant(NamedTuple):
    """A token the provider granted: its value and its lifetime in seconds."""

    value: str
    lifetime: float

    def __repr__(self) -> str:
        return f"Grant(value=<hidden>, lifetime={self.lifetime:.0f})"


#: ``expires_in`` when the provider omits it (PROVIDER.md documents 10 minutes).
DEFAULT_LIFETIME = 600
#: A longer ``expires_in`` is clamped: a bogus huge value must not pin a token forever.
MAX_LIFETIME = 24 * 3600
#: Longest fleet-wide pause a ``Retry-After`` can impose (seconds), however it got
#: there: parsed from an answer here, or read back from the shared cache as a block.
MAX_RETRY_AFTER = 300

_OAUTH_ERROR_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _host(url: str) -> str:
    # Never a ``user:password@`` part: the host goes into messages.
    return urlsplit(url).netloc.rpartition("@")[2] or without_userinfo(url)


def _retry_after(response: requests.Response) -> float | None:
    from django_apiauth.transport.sync import PoliteRetry

    header = response.headers.get("Retry-After")
    try:  # no header, or an unreadable one: no Retry-After
        seconds = PoliteRetry(retry_after_max=MAX_RETRY_AFTER).parse_retry_after(header)
    except Exception:
        return None
    return min(float(seconds), MAX_RETRY_AFTER)


class TokenAnswer:
    """The fields of a token answer, the access token out of sight of error reports.

    Not a dict, a tuple or a string: Django's reports and Sentry-style readers
    show a frame's variables by their repr and walk into containers, and an
    answer refused for its ``expires_in`` or ``token_type`` still holds a
    token that works.
    """

    __slots__ = ("access_token", "error", "expires_in", "token_type")

    def __init__(self, body: dict[str, Any]) -> None:
        self.access_token = body.get("access_token")
        self.expires_in = body.get("expires_in")
        self.token_type = body.get("token_type", "Bearer")
        error = body.get("error")  # RFC 6749's error code, if it looks like one
        self.error = error if is_oauth_error_code(error) else None

    def __repr__(self) -> str:
        return "<TokenAnswer>"

    def problem(self, credential: str) -> str | None:
        """Why this 200 answer is no usable token (said after "the token endpoint at <host>")."""
        token = self.access_token
        if not isinstance(token, str) or not token.strip():
            return f"answered 200 for credential {credential!r} without an access_token"
        # Visible ASCII only (a superset of RFC 6750's b64token): http.client would
        # refuse anything else later, with the whole value in its message.
        if not all("!" <= char <= "~" for char in token.strip()):
            return (
                f"gave credential {credential!r} an access_token that cannot be sent in a "
                "header (spaces, control or non-ASCII characters)"
            )
        token_type = self.token_type
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            shown = token_type if isinstance(token_type, str) and len(token_type) <= 20 else "?"
            return (
                f"gave credential {credential!r} a token of type {shown!r}; only Bearer tokens "
                "are supported"
            )
        return None


def _read_answer(response: requests.Response) -> TokenAnswer | None:
    """The answer's fields, or ``None`` when its body is not a JSON object (never raises)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return TokenAnswer(body) if isinstance(body, dict) else None


def is_oauth_error_code(error: Any) -> bool:
    # Only a short code made of safe characters ever reaches a message.
    return isinstance(error, str) and 0 < len(error) <= 64 and set(error) <= _OAUTH_ERROR_CHARS


def _lifetime(raw: Any, credential: str) -> float:
    if raw is None:
        log.debug(
            "token answer for %r has no expires_in; assuming %ss", credential, DEFAULT_LIFETIME
        )
        return float(DEFAULT_LIFETIME)
    try:
        lifetime = math.nan if isinstance(raw, bool) else float(raw)  # True is no lifetime
    except (TypeError, ValueError):
        lifetime = math.nan
    if not math.isfinite(lifetime) or lifetime <= 0:
        raise MalformedTokenResponseError(
            f"the token endpoint gave credential {credential!r} a token with an unusable "
            f"expires_in (not a positive number of seconds)",
            credential=credential,
            status_code=200,
        )
    if lifetime > MAX_LIFETIME:
        log.warning(
            "the token endpoint gave credential %r a token for %.0fs; using it for at most %ss",
            credential,
            lifetime,
            MAX_LIFETIME,
        )
        return float(MAX_LIFETIME)
    return lifetime


def request_token(*, credential: str, endpoint: str, api_key: str, api_secret: str) -> Grant:
    """Ask the provider for a new token (``client_credentials``), with no caching at all.

    Raises ``InvalidCredentialsError``, ``TokenEndpointError`` or
    ``MalformedTokenResponseError``; messages name the credential, never a secret.

    Nothing it raises holds a secret in a way an error report shows: the key
    and secret leave this frame's variables before anything is sent (they live
    on in the auth object only, whose repr is opaque), and a transport failure
    is raised outside its ``except`` block, so the ``requests`` error (whose
    frames hold the Basic header) is neither chained nor in the traceback.
    """
    from django_apiauth.transport.sync import TOKEN_METHODS, create_session, is_timeout

    auth = utf8_basic_auth(api_key, api_secret)
    del api_key, api_secret
    if auth is None:
        raise ConfigurationError(
            f"the API key or secret of credential {credential!r} is not valid Unicode text "
            "(it holds a lone surrogate); set it again"
        )
    check_host_is_allowed(endpoint)  # APIAUTH['ALLOWED_HOSTS'], whatever the row says
    url = endpoint + api_settings.validated("TOKEN_PATH")
    host = _host(endpoint)
    failure: Exception | None = None
    try:
        with create_session(methods=TOKEN_METHODS) as session:
            response = session.post(
                url, data={"grant_type": "client_credentials"}, auth=auth, allow_redirects=False
            )
            response.content  # noqa: B018 - read the body inside the session's lifetime
    except requests.RequestException as err:
        # The host and the exception's class only: never its text, which may quote a URL.
        cause = "timed out" if is_timeout(err) else f"failed ({type(err).__name__})"
        failure = TokenEndpointError(
            f"the token request for credential {credential!r} to {host} {cause}",
            credential=credential,
        )
    except ApiAuthError as err:  # the session's own checks (HTTPS policy, TLS settings)
        failure = err
    if failure is not None:
        # Out here nothing is being handled, so nothing is chained; the traceback
        # starts in this frame, above the frames of requests and urllib3.
        failure.__cause__ = failure.__context__ = None
        raise failure.with_traceback(None) from None

    status = response.status_code
    if status in (400, 401):
        error = getattr(_read_answer(response), "error", None)
        if error:
            raise InvalidCredentialsError(
                f"the provider refused the token request of credential {credential!r} "
                f"(HTTP {status}, {error})",
                credential=credential,
                status_code=status,
                error=error,
            )
    if status != 200:
        retry_after = _retry_after(response) if status in (429, 503) else None
        hint = " (a redirect: check the base URL and TOKEN_PATH)" if 300 <= status < 400 else ""
        raise TokenEndpointError(
            f"the token endpoint at {host} answered HTTP {status} for credential "
            f"{credential!r}{hint}",
            credential=credential,
            status_code=status,
            retry_after=retry_after,
        )

    # No variable of this frame holds the token or the body: see TokenAnswer.
    answer = _read_answer(response)
    # Nothing about a body that is no JSON object (type, size): messages must not
    # describe whatever service answered ("Test connectivity" is no port scanner).
    problem = (
        f"answered 200 for credential {credential!r} with a body that is not a JSON object"
        if answer is None
        else answer.problem(credential)
    )
    if problem is not None:
        raise MalformedTokenResponseError(
            f"the token endpoint at {host} {problem}", credential=credential, status_code=status
        )
    lifetime = _lifetime(answer.expires_in, credential)
    log.debug("fetched an access token for credential %r (lifetime %.0fs)", credential, lifetime)
    return Grant(answer.access_token.strip(), lifetime)
