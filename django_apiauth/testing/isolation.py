"""Settings the test kit owns for the duration of a test: a private token cache, allowed hosts.

The token store writes encrypted tokens, fleet leases and remembered failures
to ``APIAUTH["CACHE_ALIAS"]``. A test that fetched tokens from a fake provider
must not leave them in a developer's Redis: for its duration the alias points
at a fresh in-memory cache that is emptied afterwards.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django_apiauth.addresses import parse_host_entry
from django_apiauth.tokens import store as token_store
from django_apiauth.transport import endpoints

__all__ = ["allowing", "private_token_cache"]

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


#: Hosts allowed on top of the settings while test doubles run (the test kit's own table).
_allowed: Counter[str] = Counter()
_policy = endpoints.allowed_hosts


@contextmanager
def allowing(*urls: str) -> Iterator[None]:
    """Allow the hosts (with their ports) of ``urls`` while the block runs, for test doubles.

    The test kit wraps the policy's ``allowed_hosts()`` while any allowance is
    open, as ``responses`` patches ``requests``: the policy module keeps no table
    of test hosts, and blocks may open and close in any order.
    """
    entries = [urlsplit(url if "//" in url else "//" + url).netloc for url in urls]
    _allowed.update(entries)
    endpoints.allowed_hosts = _with_allowed
    try:
        yield
    finally:
        _allowed.subtract(entries)
        for entry in [entry for entry, count in _allowed.items() if count <= 0]:
            del _allowed[entry]
        if not _allowed:
            endpoints.allowed_hosts = _policy


def _with_allowed() -> list[tuple[str, int | None]]:
    return [*_policy(), *(parse_host_entry(entry) for entry in list(_allowed))]
