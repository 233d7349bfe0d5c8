"""The pytest plugin: fixtures come by entry point and keep tokens out of the user's cache."""

from __future__ import annotations

import base64

import pytest
import requests
from django.conf import settings as django_settings
from django.core.cache.backends.locmem import LocMemCache

from django_apiauth.client import get_client
from django_apiauth.testing.isolation import private_token_cache
from tests.tokens.cachebackends import RecordingCache


@pytest.fixture
def recorded_default_cache(settings):
    """The user's own default cache, recording every write."""
    RecordingCache.writes.clear()
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "tests.tokens.cachebackends.RecordingCache", "LOCATION": "user"},
    }
    yield RecordingCache.writes
    RecordingCache.writes.clear()


def test_fake_provider_keeps_tokens_out_of_the_users_default_cache(
    recorded_default_cache, fake_provider, db
):
    fake_provider.create_credential(name="shop")
    get_client("shop").access_token()
    assert fake_provider.tokens_issued == 1
    assert recorded_default_cache == []


def test_fake_provider_points_the_token_cache_at_its_private_alias(
    fake_provider, apiauth_token_cache
):
    assert django_settings.APIAUTH["CACHE_ALIAS"] == apiauth_token_cache
    assert apiauth_token_cache in django_settings.CACHES


def test_the_private_token_cache_is_emptied_and_the_alias_restored_afterwards():
    before = django_settings.APIAUTH.get("CACHE_ALIAS", "default")
    with private_token_cache() as alias:
        from django.core.cache import caches

        caches[alias].set("probe", "token-like value")
    assert LocMemCache(alias, {}).get("probe") is None
    assert django_settings.APIAUTH.get("CACHE_ALIAS", "default") == before
    assert alias not in django_settings.CACHES


def test_the_plugin_is_registered_once(pytestconfig):
    plugins = pytestconfig.pluginmanager.list_name_plugin()
    kits = [name for name, plugin in plugins if getattr(plugin, "__name__", "") == PLUGIN]
    assert len(kits) == 1


PLUGIN = "django_apiauth.testing.plugin"


def test_fake_provider_accepts_a_utf8_secret_sent_as_base64_of_utf8():
    from django_apiauth.testing import FakeProvider

    with FakeProvider(api_key="clé", api_secret="sécret-ü") as provider:
        basic = base64.b64encode("clé:sécret-ü".encode()).decode()
        answer = requests.post(
            f"{provider.base_url}/api/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
            timeout=5,
        )
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "Bearer"


def test_sandbox_provider_serves_keep_alive_connections(sandbox_provider):
    with requests.Session() as session:
        statuses = [
            session.get(f"{sandbox_provider.url}/sandbox/counters", timeout=5).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 200]
    assert sandbox_provider.httpd.connections_opened == 1
