"""HTTP Basic as the provider reads it: base64 of the UTF-8 bytes of ``user:password``.

One encoding for every Basic header this app sends — the token request (API
key and secret) and the dashboard login, with ``requests`` or ``httpx`` — done
by the libraries' own encoders, fed UTF-8 bytes: what the provider's merchant
plugins send (RFC 7617 ``charset="UTF-8"``). ``requests`` would encode a
``str`` as Latin-1 (``€`` raises, ``é`` goes out as a byte the provider cannot
read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from requests.auth import AuthBase, HTTPBasicAuth

from django_apiauth.exceptions import ConfigurationError

if TYPE_CHECKING:
    import requests

    from django_apiauth.models import ApiCredential

__all__ = ["DashboardBasicAuth", "dashboard_login", "utf8_basic_auth", "utf8_pair"]


def utf8_pair(username: Any, password: Any) -> tuple[bytes, bytes] | None:
    """``(username, password)`` as UTF-8 bytes; ``None`` if one is not text.

    A value UTF-8 cannot encode (a lone surrogate) gives ``None`` for the caller
    to refuse: a ``UnicodeEncodeError`` would carry the whole secret in its
    ``.object``.
    """
    encoded = []
    for part in (username, password):
        if not isinstance(part, str):
            return None
        try:
            encoded.append(part.encode("utf-8"))
        except UnicodeEncodeError:
            return None  # dropped here, never raised or chained: it holds the secret
    return encoded[0], encoded[1]


def utf8_basic_auth(username: Any, password: Any) -> HTTPBasicAuth | None:
    """``requests``' HTTP Basic of the UTF-8 ``username:password``; ``None`` if not text."""
    pair = utf8_pair(username, password)
    return None if pair is None else HTTPBasicAuth(*pair)


def dashboard_login(credential: ApiCredential) -> tuple[bytes, bytes]:
    """The credential's dashboard login as UTF-8 bytes, for either HTTP library.

    Raises ``ConfigurationError`` naming the credential when it has no
    dashboard login or it is not text, before any request is built.
    """
    for field in ("dashboard_username", "dashboard_password"):
        if not getattr(credential, field):
            raise ConfigurationError(
                f"credential {credential.name!r} has no dashboard login ({field} is empty); "
                "set it to use auth='basic'"
            )
    pair = utf8_pair(credential.dashboard_username, credential.dashboard_password)
    if pair is None:
        raise ConfigurationError(
            f"the dashboard login of credential {credential.name!r} is not valid Unicode text "
            "(it holds a lone surrogate); set it again"
        )
    return pair


class DashboardBasicAuth(AuthBase):
    """``requests`` HTTP Basic with the credential's dashboard login (see :func:`dashboard_login`).

    No local variable holds the login, so no error report can show it.
    """

    def __init__(self, credential: ApiCredential) -> None:
        self.name = credential.name
        self._basic = HTTPBasicAuth(*dashboard_login(credential))

    def __repr__(self) -> str:
        return f"<DashboardBasicAuth credential={self.name!r}>"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._basic(r)
