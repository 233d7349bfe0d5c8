"""Where requests may go: base URL resolution, the HTTPS policy and ``ALLOWED_HOSTS``.

Shared by the model's validation (so a bad URL is refused on save, next to the
field), by the credential's ``endpoint`` (so a stored endpoint outside
``ALLOWED_HOSTS`` is refused when the token fetch or the client uses it) and
by the transport (every URL a session sends to, redirect hops included, passes
:func:`check_url_is_secure`).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import threading
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

from django.utils.translation import gettext_noop

from django_apiauth.conf import api_settings
from django_apiauth.exceptions import ConfigurationError, InsecureTransportError
from django_apiauth.messages import refusal

LOOPBACK_HOSTS = frozenset({"localhost", "localhost.localdomain"})
DEFAULT_PORTS = {"https": 443, "http": 80}

# Hosts allowed on top of the settings while a test double runs (see allow_host).
_extra_hosts: Counter[str] = Counter()
_extra_hosts_lock = threading.Lock()


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
    every call (``auth="none"`` included) and pages would display it. Which
    hosts a credential may use is :func:`check_host_is_allowed`'s business.
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
        if is_loopback_host(parts.hostname) and api_settings.ALLOW_INSECURE_LOOPBACK:
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


def _netloc(host: str, port: int) -> str:
    host = host.lower().rstrip(".")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse_entry(entry: object) -> tuple[str, int | None]:
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


def allowed_hosts() -> list[tuple[str, int | None]]:
    """The effective ``APIAUTH['ALLOWED_HOSTS']`` as ``(host, port)`` pairs.

    ``None`` (the default) means the hosts (with their ports) of ``ENVIRONMENTS``.
    A port of ``None`` stands for the scheme's default port only, so an allowed
    host cannot be probed on its other ports.
    """
    configured = api_settings.ALLOWED_HOSTS
    if configured is None:
        entries = []
        for url in api_settings.ENVIRONMENTS.values():
            parts = urlsplit(str(url))
            if parts.hostname:
                entries.append(parts.netloc.rpartition("@")[2])
    elif isinstance(configured, (list, tuple)):
        entries = list(configured)
    else:
        raise ConfigurationError(
            "APIAUTH['ALLOWED_HOSTS'] must be a list of host names (or None for the hosts "
            f"of ENVIRONMENTS), not a {type(configured).__name__}"
        )
    with _extra_hosts_lock:
        entries.extend(_extra_hosts)
    return [_parse_entry(entry) for entry in entries]


def _host_matches(host: str, port: int, scheme: str, allowed: tuple[str, int | None]) -> bool:
    pattern, allowed_port = allowed
    if allowed_port is None:
        allowed_port = DEFAULT_PORTS.get(scheme)
    if port != allowed_port:
        return False
    if pattern.startswith("."):
        return host == pattern[1:] or host.endswith(pattern)
    return host == pattern


def check_host_is_allowed(url: str) -> None:
    """Raise ``InsecureTransportError`` unless ``url``'s host (and port) is allowed.

    Allowed: ``APIAUTH['ALLOWED_HOSTS']`` (default: the hosts of ``ENVIRONMENTS``),
    and any loopback host and port when ``ALLOW_INSECURE_LOOPBACK`` is on. The
    message names the host, never anything learnt from it.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        raise refusal(
            InsecureTransportError,
            gettext_noop("%(url)r has an invalid port"),
            url=without_userinfo(url),
        ) from None
    if is_loopback_host(host) and api_settings.ALLOW_INSECURE_LOOPBACK:
        return
    if any(_host_matches(host, port, scheme, entry) for entry in allowed_hosts()):
        return
    shown = _netloc(host, port) if port != DEFAULT_PORTS.get(scheme) else host
    raise refusal(
        InsecureTransportError,
        gettext_noop(
            "host %(host)r is not in APIAUTH['ALLOWED_HOSTS']; credentials are only sent to "
            "the provider's hosts (add it there if the provider gave you this host)"
        ),
        host=shown,
    )


@contextlib.contextmanager
def allow_host(url_or_host: str) -> Iterator[None]:
    """Allow one more host (with its port) while the block runs — for test doubles.

    ``django_apiauth.testing.FakeProvider`` uses it for its own base URL, so a
    site's tests need no ``ALLOWED_HOSTS`` change. Nesting is counted.
    """
    entry = url_or_host
    if "//" in url_or_host:
        entry = urlsplit(url_or_host).netloc.rpartition("@")[2]
    _parse_entry(entry)
    with _extra_hosts_lock:
        _extra_hosts[entry] += 1
    try:
        yield
    finally:
        with _extra_hosts_lock:
            _extra_hosts[entry] -= 1
            if _extra_hosts[entry] <= 0:
                del _extra_hosts[entry]


@functools.lru_cache(maxsize=1024)  # a pure function, on every bound secret's read and write
def endpoint_identity(url: str) -> str:
    """``scheme://host:port/path`` of a base URL, spelled one way whatever the input.

    What a secret is bound to: ``HTTPS://Host.example/api/`` and
    ``https://host.example:443/api`` are the same endpoint.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        raise ConfigurationError(f"{without_userinfo(url)!r} has an invalid port") from None
    host = (parts.hostname or "").rstrip(".")
    return f"{scheme}://{_netloc(host, port or 0)}{parts.path.rstrip('/')}"


def resolve_base_url(environment: str, base_url: str = "") -> str:
    """The base URL a credential talks to: its own ``base_url``, else its environment's."""
    if base_url:
        return base_url.rstrip("/")
    environments = api_settings.ENVIRONMENTS
    try:
        return str(environments[environment]).rstrip("/")
    except KeyError:
        raise refusal(
            ConfigurationError,
            gettext_noop(
                "unknown environment %(name)r; APIAUTH['ENVIRONMENTS'] defines: %(known)s"
            ),
            name=environment,
            known=", ".join(sorted(environments)) or "(none)",
        ) from None
