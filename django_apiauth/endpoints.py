"""Where requests may go: base URL resolution and the HTTPS policy.

Shared by the model's validation (so a bad URL is refused on save, next to the
field) and by the transport (so nothing slips through at request time).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .conf import api_settings
from .exceptions import ConfigurationError, InsecureTransportError

LOOPBACK_HOSTS = frozenset({"localhost", "localhost.localdomain"})


def is_loopback_host(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def without_userinfo(url: str) -> str:
    """``url`` for a message: a ``user:password@`` part is replaced by ``***@``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def check_url_is_secure(url: str) -> None:
    """Raise ``InsecureTransportError`` unless ``url`` may carry credentials.

    ``https://`` always may; ``http://`` only to a loopback host and only when
    ``ALLOW_INSECURE_LOOPBACK`` is on (local sandboxes and tests). A URL with a
    ``user:password@`` part never may: requests would send it as Basic auth on
    every call (``auth="none"`` included) and pages would display it.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown = without_userinfo(url)
    if "@" in parts.netloc:
        raise InsecureTransportError(
            f"{shown!r} contains a user name or password; put secrets in the credential's "
            "encrypted fields, never in its URL"
        )
    if scheme == "https" and parts.hostname:
        return
    if scheme == "http" and parts.hostname:
        if is_loopback_host(parts.hostname) and api_settings.ALLOW_INSECURE_LOOPBACK:
            return
        if is_loopback_host(parts.hostname):
            raise InsecureTransportError(
                f"{shown!r} uses plain http://; set APIAUTH['ALLOW_INSECURE_LOOPBACK'] = True "
                "to allow it for a loopback sandbox"
            )
        raise InsecureTransportError(
            f"{shown!r} uses plain http://; credentials only travel over https://"
        )
    raise InsecureTransportError(f"{shown!r} is not an absolute https:// URL")


def resolve_base_url(environment: str, base_url: str = "") -> str:
    """The base URL a credential talks to: its own ``base_url``, else its environment's."""
    if base_url:
        return base_url.rstrip("/")
    environments = api_settings.ENVIRONMENTS
    try:
        return str(environments[environment]).rstrip("/")
    except KeyError:
        known = ", ".join(sorted(environments)) or "(none)"
        raise ConfigurationError(
            f"unknown environment {environment!r}; APIAUTH['ENVIRONMENTS'] defines: {known}"
        ) from None
