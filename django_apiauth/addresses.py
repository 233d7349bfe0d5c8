"""What a URL or a host entry may look like: the grammar under every endpoint check.

Free of settings (:mod:`django_apiauth.transport.endpoints` reads them), so settings
validation uses the same rules as every request.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.utils.translation import gettext_noop
from urllib3.exceptions import LocationParseError
from urllib3.util import Url
from urllib3.util import parse_url as urllib3_parse_url

from django_apiauth.exceptions import ConfigurationError, InsecureTransportError
from django_apiauth.messages import refusal

__all__ = [
    "DEFAULT_PORTS",
    "check_url_is_secure",
    "host_of",
    "is_loopback_host",
    "netloc",
    "parse_host_entry",
    "parse_url",
    "without_userinfo",
]

DEFAULT_PORTS = {"https": 443, "http": 80}

# An authority (RFC 3986: up to the first "/", "?" or "#") that every parser reads
# alike: an ASCII host name, an IPv4 address or a bracketed IPv6 one, then a port.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_AUTHORITY = re.compile(
    rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9a-f:.]+\])(?::[0-9]{{1,5}})?", re.IGNORECASE
)


def parse_url(url: str) -> Url:
    """``url`` as urllib3 (under requests) reads it; ``InsecureTransportError`` unless
    its authority is a plain host and port, which every parser reads alike."""
    authority = re.split(r"[/?#]", url.partition("//")[2], maxsplit=1)[0]
    try:
        if "//" in url and _PLAIN_AUTHORITY.fullmatch(authority):
            return urllib3_parse_url(url)
    except LocationParseError:
        pass
    raise refusal(
        InsecureTransportError,
        gettext_noop("%(url)r does not name a plain host name (and port)"),
        url=without_userinfo(url),
    )


def is_loopback_host(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host in ("localhost", "localhost.localdomain"):
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

    ``https://`` always may; ``http://`` only to a loopback host with ``allow_loopback``
    (``ALLOW_INSECURE_LOOPBACK``). Never with a ``user:password@`` part: requests would send
    it as Basic auth on every call (``auth="none"`` included), and pages would display it.
    """
    shown = without_userinfo(url)
    if "@" in urlsplit(url).netloc:
        raise refusal(
            InsecureTransportError,
            gettext_noop(
                "%(url)r contains a user name or password; put secrets in the credential's "
                "encrypted fields, never in its URL"
            ),
            url=shown,
        )
    parts = parse_url(url)
    scheme = (parts.scheme or "").lower()
    loopback = is_loopback_host(parts.host)
    if parts.host and (scheme == "https" or (scheme == "http" and loopback and allow_loopback)):
        return
    if scheme == "http" and parts.host:
        if loopback:
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


def host_of(parts: Url) -> str:
    """The host of a parsed URL, lower case, without IPv6 brackets or a trailing dot."""
    return (parts.host or "").strip("[]").lower().rstrip(".")


def netloc(host: str, port: int) -> str:
    host = host.lower().rstrip(".")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_host_entry(entry: object) -> tuple[str, int | None]:
    """``"host"``, ``".domain"`` or ``"host:port"`` → (host, port or None)."""
    if not isinstance(entry, str) or not _PLAIN_AUTHORITY.fullmatch(entry.strip().lstrip(".")):
        raise ConfigurationError(
            f"APIAUTH['ALLOWED_HOSTS'] entries are host names such as 'api.example.com', "
            f"'.example.com' (subdomains too) or 'api.example.com:8443', not {entry!r}"
        )
    try:
        parts = urllib3_parse_url("//" + entry.strip().lstrip("."))
    except LocationParseError:
        raise ConfigurationError(
            f"APIAUTH['ALLOWED_HOSTS'] entry {entry!r} has a bad port"
        ) from None
    return ("." if entry.strip().startswith(".") else "") + host_of(parts), parts.port
