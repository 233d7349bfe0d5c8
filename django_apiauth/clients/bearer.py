"""The bearer token on a call, and the replays after a refusal: the plan both clients follow.

What a refusal means is ``TokenStore.rejected``'s to judge; this module says what
a refusal is and drives the plan with ``requests`` (:mod:`.async_bearer`: ``httpx``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar
from requests.utils import rewind_body

from django_apiauth import clock

if TYPE_CHECKING:
    import requests

    from django_apiauth.tokens.store import TokenStore
    from django_apiauth.tokens.values import Token

__all__ = ["MAX_REPLAYS", "BearerTokenAuth", "is_token_rejection", "sent_token"]

#: Replays of one refused call: the replacement itself may have been revoked meanwhile.
MAX_REPLAYS = 2

#: RFC 6750 section 3.1: a Bearer challenge saying the token is expired or revoked.
_INVALID_TOKEN_CHALLENGE = re.compile(r'\bbearer\b.*?\berror\s*=\s*"?invalid_token\b', re.I | re.S)


def is_token_rejection(status_code: int, headers: Mapping[str, str]) -> bool:
    """Whether an answer refuses the bearer token itself: a 401, or a 403 with
    ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 3.1, as django-oauth-toolkit)."""
    if status_code != 403:
        return status_code == 401
    return bool(_INVALID_TOKEN_CHALLENGE.search(headers.get("WWW-Authenticate") or ""))


def sent_token(headers: Mapping[str, str]) -> str:
    """The bearer token a request carried; ``""`` when it carried none.

    Both HTTP libraries strip ``Authorization`` on a redirect to another host:
    a refusal there is never answered with a replay (it would hand that host a token).
    """
    return (headers.get("Authorization") or "").partition(" ")[2]


def _can_replay(request: requests.PreparedRequest) -> bool:
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    # A file body can be rewound if requests recorded where it started; a generator cannot.
    return getattr(request, "_body_position", None) is not None and hasattr(body, "seek")


class BearerTokenAuth(AuthBase):
    """``Authorization: Bearer <token>`` from the shared token store, for ``requests``."""

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
        """Response hook, as ``HTTPDigestAuth.handle_401``: on a refused token, resend (a body
        that can be sent again) with ``TokenStore.rejected``'s answer. Twice at most: the
        replacement itself may have been revoked while the first refusal was judged."""
        for _replay in range(MAX_REPLAYS):
            if not is_token_rejection(r.status_code, r.headers):
                self._prove(r)  # the answer of every call: one check, then one attribute read
                return r
            sent = sent_token(r.request.headers)
            token = self.store.rejected(sent) if sent else None
            if token is None or token.value == sent or not _can_replay(r.request):
                return r  # nothing better to send, or a body that cannot be sent again
            r = self._replay(r, token, **kwargs)
        if not is_token_rejection(r.status_code, r.headers):
            self._prove(r)
        return r

    @staticmethod
    def _replay(r: requests.Response, token: Token, **kwargs: Any) -> requests.Response:
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
        replay.history = [*r.history, r, *replay.history]
        replay.request = prep
        return replay

    def _prove(self, r: requests.Response) -> None:
        token = self._cached()
        # Once per token: after that, one attribute read per call.
        if (
            token is not None
            and not token.proven
            and r.request.headers.get("Authorization") == token.header
        ):
            self.store.proven(token)
