"""What a URL or a host entry may look like: the grammar under every endpoint check.

Free of settings (the policy that reads them is
:mod:`django_apiauth.transport.endpoints`), so that settings validation can use
the same rules as every request.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.utils.translation import gettext_noop

from django_apiauth.exceptions import ConfigurationError, InsecureTransportError
from django_apiauth.messages import refusal

__all__ = [
    "DEFAULT_PORTS",
    "check_url_is_secure",
    "is_loopback_host",
    "netloc",
    "parse_host_entry",
    "without_userinfo",
]

LOOPBACK_HOSTS = frozenset({"localhost", "localhost.localdomain"})
DEFAULT_PORTS = {"https": 443, "http": 80}


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


def check_url_is_secure(url: str, *, allow_loopback: bool) -> None:
    """Raise ``InsecureTransportError`` unless ``url`` may carry credentials.

    ``https://`` always may; ``http://`` only to a loopback host and only when
    ``allow_loopback`` (``ALLOW_INSECURE_LOOPBACK``) is on (local sandboxes and tests). A URL with a
    ``user:password@`` part never may: requests would send it as Basic auth on
    every call (``auth="none"`` included) and pages would display it. Which
    hosts a credential may use is ``endpoints.check_host_is_allowed``'s business.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown = without_userinfo(url)
    if "@" in parts.netloc:
        raise refusal(
            InsecureTransportError,
            gettext_noop(
                "%(url)r contains a user name or password; put secrets in the credential's "
                "encrypted fields, never in its URL"
            ),
            url=shown,
        )
    if scheme == "https" and parts.hostname:
        return
    if scheme == "http" and parts.hostname:
        if is_loopback_host(parts.hostname) and allow_loopback:
            return
        if is_loopback_host(parts.hostname):
            raise refusal(
                InsecureTransportError,
                gettext_noop(
                    "%(url)r uses plain http://; set APIAUTH['ALLOW_INSECURE_LOOPBACK'] = True "
                    "to allow it for a loopback sandbox"
                ),
                url=shown,
            )
        raise refusal(
            InsecureTransportError,
            gettext_noop("%(url)r uses plain http://; credentials only travel over https://"),
            url=shown,
        )
    raise refusal(
        InsecureTransportError, gettext_noop("%(url)r is not an absolute https:// URL"), url=shown
    )


def netloc(host: str, port: int) -> str:
    host = host.lower().rstrip(".")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_host_entry(entry: object) -> tuple[str, int | None]:
    """``"host"``, ``".domain"`` or ``"host:port"`` → (host, port or None)."""
    if not isinstance(entry, str) or not entry.strip() or "/" in entry or "@" in entry:
        raise ConfigurationError(
            f"APIAUTH['ALLOWED_HOSTS'] entries are host names such as 'api.example.com', "
            f"'.example.com' (subdomains too) or 'api.example.com:8443', not {entry!r}"
        )
    try:
        parts = urlsplit("//" + entry.strip())
        port = parts.port
    except ValueError:
        raise ConfigurationError(
            f"APIAUTH['ALLOWED_HOSTS'] entry {entry!r} has a bad port"
        ) from None
    host = (parts.hostname or "").rstrip(".")
    if entry.strip().startswith("."):
        host = "." + host.lstrip(".")
    return host, port
