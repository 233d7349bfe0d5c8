"""Shared fixtures: key ring hygiene, real services (Redis) and markers.

Tests that need a service skip with a reason when it is absent, unless
``APIAUTH_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import socket

import pytest

from django_apiauth import crypto

PLUGIN = "django_apiauth.testing.plugin"


def _plugin_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))


# An installed django-apiauth loads the test kit's plugin through its pytest11
# entry point; a source tree whose installed metadata predates the entry point
# (or none at all) registers it here. Never both: pluggy refuses a plugin twice.
pytest_plugins = [] if _plugin_installed() else [PLUGIN]

REDIS_URL = os.environ.get("APIAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def services_required() -> bool:
    return os.environ.get("APIAUTH_REQUIRE_SERVICES") == "1"


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail, in CI) unless something listens on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError as err:
        reason = f"{name} is not reachable on {host}:{port} ({err})"
        if services_required():
            pytest.fail(f"{reason}; APIAUTH_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_key_ring():
    # The ring also depends on $APIAUTH_ENCRYPTION_KEYS, which setting_changed
    # does not see; start every test from the settings in force.
    crypto.get_key_ring.cache_clear()
    yield
    crypto.get_key_ring.cache_clear()


@pytest.fixture(autouse=True)
def _clear_caches():
    from django.core.cache import caches
    from django.core.cache.backends.base import InvalidCacheBackendError

    from django_apiauth import tokens

    yield
    # Tokens live in process memory too: a later test with the same pk and
    # secrets must not inherit one.
    tokens.clear_process_memory()
    # Not only the caches this thread initialized: the token store's cache calls
    # run in threads of their own. (LocMem's data is shared by all its instances.)
    for alias, config in caches.settings.items():
        if config.get("BACKEND", "").endswith("LocMemCache"):
            with contextlib.suppress(InvalidCacheBackendError):
                caches[alias].clear()


@pytest.fixture
def redis_cache_settings(settings):
    """Point the ``default`` cache at a private Redis database (13), flushed around the test."""
    require_service("Redis", "127.0.0.1", 6379)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        },
    }
    yield REDIS_URL
    client.flushdb()
    client.close()


def pytest_collection_modifyitems(config, items):
    if os.environ.get("APIAUTH_TEST_DATABASE") == "postgres":
        return
    for item in items:
        if item.get_closest_marker("postgres"):
            reason = "PostgreSQL run only: set APIAUTH_TEST_DATABASE=postgres (make test does)"
            item.add_marker(pytest.mark.skip(reason=reason))
