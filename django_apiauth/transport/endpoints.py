"""Where requests may go: base URL resolution, the HTTPS policy and ``ALLOWED_HOSTS``.

Shared by the model's validation, the credential's ``endpoint`` and every URL a
session sends to (redirect hops included).
"""

from __future__ import annotations

import functools

from django.utils.translation import gettext_noop

from django_apiauth import addresses
from django_apiauth.addresses import DEFAULT_PORTS, is_loopback_host, netloc, without_userinfo
from django_apiauth.conf import api_settings
from django_apiauth.exceptions import ConfigurationError, InsecureTransportError
from django_apiauth.messages import refusal

__all__ = [
    "allowed_hosts",
    "check_host_is_allowed",
    "check_url_is_secure",
    "endpoint_identity",
    "resolve_base_url",
    "without_userinfo",
]


def check_url_is_secure(url: str) -> None:
    """:func:`addresses.check_url_is_secure` with ``APIAUTH['ALLOW_INSECURE_LOOPBACK']``."""
    addresses.check_url_is_secure(url, allow_loopback=api_settings.ALLOW_INSECURE_LOOPBACK)


def allowed_hosts() -> list[tuple[str, int | None]]:
    """The effective ``APIAUTH['ALLOWED_HOSTS']`` as ``(host, port)`` pairs.

    ``None`` (the default) means the hosts (with their ports) of ``ENVIRONMENTS``.
    A port of ``None`` stands for the scheme's default port only, so an allowed
    host cannot be probed on its other ports.
    """
    configured = api_settings.ALLOWED_HOSTS
    if configured is None:
        # parse_url answers a host or raises: no entry without one.
        parsed = [addresses.parse_url(str(url)) for url in api_settings.ENVIRONMENTS.values()]
        entries = [netloc(addresses.host_of(p), p.port) if p.port else p.host for p in parsed]
    elif isinstance(configured, (list, tuple)):
        entries = list(configured)
    else:
        raise ConfigurationError(
            "APIAUTH['ALLOWED_HOSTS'] must be a list of host names (or None for the hosts "
            f"of ENVIRONMENTS), not a {type(configured).__name__}"
        )
    return [addresses.parse_host_entry(entry) for entry in entries]


def _host_matches(host: str, port: int, scheme: str, allowed: tuple[str, int | None]) -> bool:
    pattern, allowed_port = allowed
    if port != (DEFAULT_PORTS.get(scheme) if allowed_port is None else allowed_port):
        return False
    return host == pattern.removeprefix(".") or (pattern[:1] == "." and host.endswith(pattern))


def check_host_is_allowed(url: str) -> None:
    """Raise ``InsecureTransportError`` unless ``url``'s host (and port) is allowed.

    Allowed: ``APIAUTH['ALLOWED_HOSTS']``, and any loopback host and port with
    ``ALLOW_INSECURE_LOOPBACK``. The message names the host, nothing learnt from it.
    """
    parts = addresses.parse_url(url)  # as urllib3 will send it
    host, scheme = addresses.host_of(parts), (parts.scheme or "").lower()
    port = parts.port or DEFAULT_PORTS.get(scheme)
    if is_loopback_host(host) and api_settings.ALLOW_INSECURE_LOOPBACK:
        return
    if any(_host_matches(host, port, scheme, entry) for entry in allowed_hosts()):
        return
    shown = netloc(host, port) if port != DEFAULT_PORTS.get(scheme) else host
    raise refusal(
        InsecureTransportError,
        gettext_noop(
            "host %(host)r is not in APIAUTH['ALLOWED_HOSTS']; credentials are only sent to "
            "the provider's hosts (add it there if the provider gave you this host)"
        ),
        host=shown,
    )


@functools.lru_cache(maxsize=1024)  # a pure function, on every bound secret's read and write
def endpoint_identity(url: str) -> str:
    """``scheme://host:port/path`` of a base URL, spelled one way: what a secret is bound to
    (``HTTPS://Host.example/api/`` and ``https://host.example:443/api`` are the same)."""
    try:
        parts = addresses.parse_url(url)
    except InsecureTransportError as err:
        raise ConfigurationError(str(err)) from None
    scheme = (parts.scheme or "").lower()
    port = parts.port or DEFAULT_PORTS.get(scheme)
    return (
        f"{scheme}://{netloc(addresses.host_of(parts), port or 0)}{(parts.path or '').rstrip('/')}"
    )


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
