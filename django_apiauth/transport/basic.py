"""HTTP Basic as the provider reads it: base64 of the UTF-8 bytes of ``user:password``.

Every Basic header this app sends, by the libraries' own encoders fed UTF-8 bytes
(RFC 7617 ``charset="UTF-8"``, as the provider's plugins send): ``requests`` would
encode a ``str`` as Latin-1 (``€`` raises, ``é`` is a byte the provider cannot read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from requests.auth import HTTPBasicAuth

from django_apiauth.exceptions import ConfigurationError

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["DashboardBasicAuth", "dashboard_login", "utf8_basic_auth"]


def utf8_pair(username: Any, password: Any) -> tuple[bytes, bytes] | None:
    """``(username, password)`` as UTF-8 bytes; ``None`` if one is not text (a lone surrogate
    too: a ``UnicodeEncodeError`` would carry the whole secret in its ``.object``)."""
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    try:
        return username.encode("utf-8"), password.encode("utf-8")
    except UnicodeEncodeError:
        return None  # dropped here, never raised or chained: it holds the secret


def utf8_basic_auth(username: Any, password: Any) -> HTTPBasicAuth | None:
    """``requests``' HTTP Basic of the UTF-8 ``username:password``; ``None`` if not text."""
    pair = utf8_pair(username, password)
    return None if pair is None else HTTPBasicAuth(*pair)


def dashboard_login(credential: ApiCredential) -> tuple[bytes, bytes]:
    """The credential's dashboard login as UTF-8 bytes, for either HTTP library; else
    ``ConfigurationError`` naming the credential, before any request is built."""
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


class DashboardBasicAuth(HTTPBasicAuth):
    """``requests`` HTTP Basic with the credential's dashboard login (see :func:`dashboard_login`).

    No local variable holds the login, and the repr shows none, so no error report can show it.
    """

    def __init__(self, credential: ApiCredential) -> None:
        self.name = credential.name
        super().__init__(*dashboard_login(credential))

    def __repr__(self) -> str:
        return f"<DashboardBasicAuth credential={self.name!r}>"
