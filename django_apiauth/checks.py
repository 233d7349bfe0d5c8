"""System checks with stable ids (``django_apiauth.E001`` ...)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import api_settings
from .exceptions import ConfigurationError

LOCAL_CACHE_BACKENDS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.security)
def check_encryption_keys(app_configs=None, **kwargs):
    from .crypto import build_key_ring

    try:
        ring = build_key_ring()
    except ConfigurationError as err:
        return [
            Error(
                str(err),
                hint="Generate a key with `manage.py apiauth_generate_key` and put it first "
                "in APIAUTH['ENCRYPTION_KEYS'] or $APIAUTH_ENCRYPTION_KEYS.",
                id="django_apiauth.E001",
            )
        ]
    if ring.primary.derived_from_secret_key:
        return [
            Warning(
                "Credentials are encrypted with a key derived from SECRET_KEY.",
                hint="Set a dedicated key (manage.py apiauth_generate_key) in "
                "APIAUTH['ENCRYPTION_KEYS'] or $APIAUTH_ENCRYPTION_KEYS, then run "
                "apiauth_rotate_keys.",
                id="django_apiauth.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_encryption_keys_deploy(app_configs=None, **kwargs):
    from .crypto import build_key_ring

    try:
        ring = build_key_ring()
    except ConfigurationError:
        return []  # already reported by E001
    if ring.primary.derived_from_secret_key:
        return [
            Error(
                "A production deployment must not encrypt credentials with a key derived "
                "from SECRET_KEY.",
                hint="Set APIAUTH['ENCRYPTION_KEYS'] or $APIAUTH_ENCRYPTION_KEYS.",
                id="django_apiauth.E002",
            )
        ]
    return []


@register(Tags.caches)
def check_token_cache(app_configs=None, **kwargs):
    alias = api_settings.CACHE_ALIAS
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [
            Error(
                f"APIAUTH['CACHE_ALIAS'] is {alias!r}, which is not in CACHES.",
                hint=f"Add a {alias!r} entry to CACHES or point CACHE_ALIAS at an existing one.",
                id="django_apiauth.E003",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    if backend in LOCAL_CACHE_BACKENDS and not settings.DEBUG:
        return [
            Warning(
                f"The token cache {alias!r} uses {backend.rsplit('.', 1)[-1]}, which is "
                "private to each process: every worker fetches its own access token.",
                hint="Use a shared cache (Redis, Memcached, database) for APIAUTH['CACHE_ALIAS'].",
                id="django_apiauth.W002",
            )
        ]
    return []


@register(Tags.security)
def check_transport_settings(app_configs=None, **kwargs):
    errors = []
    if api_settings.VERIFY is False:
        errors.append(
            Error(
                "APIAUTH['VERIFY'] is False: TLS certificates would not be verified.",
                hint="Remove it, or set it to the path of a CA bundle.",
                id="django_apiauth.E004",
            )
        )
    unknown = api_settings.unknown_keys()
    if unknown:
        errors.append(
            Warning(
                f"APIAUTH has unknown keys: {', '.join(unknown)}.",
                hint="Check the spelling against the settings table in the README.",
                id="django_apiauth.W003",
            )
        )
    return errors


@register(Tags.security, Tags.database)
def check_keys_still_in_use(app_configs=None, databases=None, **kwargs):
    """W004: stored values depend on a key that is not the primary one.

    Such a key is on its way out (a SECRET_KEY_FALLBACKS-derived key, the
    SECRET_KEY-derived key once a dedicated key exists, an old dedicated key):
    removing it loses those rows. A database check — ``manage.py check
    --database default`` and ``migrate`` run it — costing one GROUP BY per column.
    """
    from django.db import DatabaseError

    from .crypto import build_key_ring
    from .rotation import PLAINTEXT, values_per_key

    try:
        ring = build_key_ring()
    except ConfigurationError:
        return []  # reported by E001
    messages = []
    for alias in databases or []:
        try:
            counts = values_per_key(using=alias)
        except DatabaseError:
            continue  # not migrated yet
        stale = {k: n for k, n in counts.items() if k not in (ring.primary.key_id, PLAINTEXT)}
        if not stale:
            continue
        described = []
        for key_id, count in sorted(stale.items()):
            key = ring.key(key_id)
            kind = (
                "not in the key ring"
                if key is None
                else "derived from SECRET_KEY_FALLBACKS"
                if key.derived_from_fallback
                else "derived from SECRET_KEY"
                if key.derived_from_secret_key
                else "not the first key"
            )
            described.append(f"{count} under {key_id} ({kind})")
        messages.append(
            Warning(
                f"Database {alias!r}: stored secrets still depend on keys that are not the "
                f"primary encryption key: {'; '.join(described)}.",
                hint="Run `manage.py apiauth_rotate_keys` before removing any key, "
                "SECRET_KEY or SECRET_KEY_FALLBACKS entry.",
                id="django_apiauth.W004",
            )
        )
    return messages
