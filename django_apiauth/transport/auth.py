"""``requests`` auth classes: the bearer access token and the dashboard Basic login."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from requests.auth import AuthBase, HTTPBasicAuth
from requests.cookies import extract_cookies_to_jar
from requests.utils import rewind_body

from django_apiauth import clock, telemetry
from django_apiauth.exceptions import ConfigurationError

if TYPE_CHECKING:
    import requests

    from django_apiauth.models import ApiCredential
    from django_apiauth.tokens.store import TokenStore


#: RFC 6750 section 3.1: a Bearer challenge saying the token is expired or revoked.
_INVALID_TOKEN_CHALLENGE = re.compile(r'\bbearer\b.*?\berror\s*=\s*"?invalid_token\b', re.I | re.S)


def is_token_rejection(status_code: int, headers: Mapping[str, str]) -> bool:
    """Whether an answer says the bearer token itself was refused.

    A 401, or a 403 with ``WWW-Authenticate: Bearer error="invalid_token"``
    (RFC 6750 section 3.1: how django-oauth-toolkit answers a revoked token).
    """
    if status_code == 401:
        return True
    if status_code != 403:
        return False
    challenge = headers.get("WWW-Authenticate") or ""
    return bool(_INVALID_TOKEN_CHALLENGE.search(challenge))


def _can_replay(request: requests.PreparedRequest) -> bool:
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    # A file body can be rewound if requests recorded where it started; a generator cannot.
    return getattr(request, "_body_position", None) is not None and hasattr(body, "seek")


class BearerTokenAuth(AuthBase):
    """``Authorization: Bearer <token>`` from the shared token store.

    A 401 answer (or a 403 ``invalid_token`` challenge) hands the token that was
    sent to ``TokenStore.note_rejected``, which drops it at most once per
    interval fleet-wide; when a newer token makes sense, the request is replayed
    once with it, if its body can be replayed — the way
    ``HTTPDigestAuth.handle_401`` does it in ``requests``.
    """

    def __init__(self, store: TokenStore) -> None:
        self.store = store
        # Bound once: the hot path below must not allocate or read settings.
        self._cached = store.cached
        self._get = store.get
        self._hook = self.handle_401

    def __repr__(self) -> str:
        return f"<BearerTokenAuth credential={self.store.name!r}>"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        # The store's fast path: its token in process memory, used while fresh (no
        # cache round trip, no settings read); anything else is the store's business.
        token = self._cached()
        if token is None or clock.current.monotonic() >= token.refresh_at:
            token = self._get()
        r.headers["Authorization"] = token.header
        r.hooks["response"].append(self._hook)
        return r

    def handle_401(self, r: requests.Response, **kwargs: Any) -> requests.Response:
        """Response hook: on a refused token, swap it for a newer one and resend once."""
        if not is_token_rejection(r.status_code, r.headers):
            return r
        sent = r.request.headers.get("Authorization", "").partition(" ")[2]
        if not sent:
            # No token was sent: requests strips it on a redirect to another host (the
            # hook runs on every hop). Replaying there would hand that host the token.
            return r
        telemetry.token_rejected(self.store.name)
        if not self.store.note_rejected(sent) or not _can_replay(r.request):
            return r  # no newer token worth a replay, or a body that cannot be resent
        token = self.store.get()
        if token.value == sent:
            return r
        # Drain and release the connection so the replay can reuse it.
        r.content  # noqa: B018
        r.close()
        prep = r.request.copy()
        if prep.body is not None and not isinstance(prep.body, (bytes, str)):
            rewind_body(prep)
        extract_cookies_to_jar(prep._cookies, r.request, r.raw)
        prep.prepare_cookies(prep._cookies)
        prep.headers["Authorization"] = token.header
        replay = r.connection.send(prep, **kwargs)
        replay.history.append(r)
        replay.request = prep
        return replay


def utf8_basic_auth(username: Any, password: Any) -> HTTPBasicAuth | None:
    """HTTP Basic of the UTF-8 bytes of ``username:password``; ``None`` if one is not text.

    ``requests`` encodes a ``str`` as Latin-1 (``€`` raises, ``é`` goes out as a
    byte the provider cannot read) but sends ``bytes`` as they are, so its own
    encoder gets UTF-8 bytes: what the provider's merchant plugins send (RFC 7617
    ``charset="UTF-8"``). A value UTF-8 cannot encode (a lone surrogate) gives
    ``None`` for the caller to refuse: a ``UnicodeEncodeError`` would carry the
    whole secret in its ``.object``.
    """
    encoded = []
    for part in (username, password):
        if not isinstance(part, str):
            return None
        try:
            encoded.append(part.encode("utf-8"))
        except UnicodeEncodeError:
            return None  # dropped here, never raised or chained: it holds the secret
    return HTTPBasicAuth(*encoded)


class DashboardBasicAuth(AuthBase):
    """HTTP Basic with the credential's dashboard login (UTF-8, requests' own encoder).

    Raises ``ConfigurationError`` naming the credential when it has no dashboard
    login, before any request is built. No local variable holds the login, so
    no error report can show it.
    """

    def __init__(self, credential: ApiCredential) -> None:
        self.name = credential.name
        for field in ("dashboard_username", "dashboard_password"):
            if not getattr(credential, field):
                raise ConfigurationError(
                    f"credential {self.name!r} has no dashboard login ({field} is empty); "
                    "set it to use auth='basic'"
                )
        basic = utf8_basic_auth(credential.dashboard_username, credential.dashboard_password)
        if basic is None:
            raise ConfigurationError(
                f"the dashboard login of credential {self.name!r} is not valid Unicode text "
                "(it holds a lone surrogate); set it again"
            )
        self._basic = basic

    def __repr__(self) -> str:
        return f"<DashboardBasicAuth credential={self.name!r}>"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._basic(r)
