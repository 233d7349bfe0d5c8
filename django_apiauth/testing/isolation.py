"""A private token cache for the duration of a test, so nothing lands in the user's cache.

The token store writes encrypted tokens, fleet leases and remembered failures
to ``APIAUTH["CACHE_ALIAS"]``. A test that fetched tokens from a fake provider
must not leave them in a developer's Redis: for its duration the alias points
at a fresh in-memory cache that is emptied afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from django_apiauth.tokens import store as token_store

__all__ = ["private_token_cache"]

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


@contextmanager
def private_token_cache() -> Iterator[str]:
    """Point ``APIAUTH["CACHE_ALIAS"]`` at a new in-memory cache; yields its alias."""
    from django.conf import settings
    from django.core.cache import caches
    from django.test import override_settings

    alias = f"apiauth-test-{secrets.token_hex(6)}"
    apiauth = {**getattr(settings, "APIAUTH", {}), "CACHE_ALIAS": alias}
    private = {"BACKEND": LOCMEM, "LOCATION": alias}
    token_store.clear_process_memory()
    with override_settings(CACHES={**settings.CACHES, alias: private}, APIAUTH=apiauth):
        try:
            yield alias
        finally:
            caches[alias].clear()
            token_store.clear_process_memory()
