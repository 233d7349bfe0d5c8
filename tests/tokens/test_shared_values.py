"""What the shared cache holds is trusted no further than this app wrote it; settings checks."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from django_apiauth import checks
from django_apiauth.exceptions import InvalidCredentialsError, TokenEndpointError
from django_apiauth.tokens import store as tokens
from django_apiauth.tokens.endpoint import MAX_RETRY_AFTER as MAX_BACKOFF
from django_apiauth.tokens.values import INVALID_CLIENT_MEMORY

pytestmark = pytest.mark.django_db


def test_a_token_copied_under_another_credentials_key_is_refused(fake_provider, api_client):
    other = fake_provider.create_credential(name="other")
    from django_apiauth.client import ApiClient

    victim = ApiClient(other)
    stolen = api_client.access_token()
    value = caches["default"].get(api_client.store.key)
    caches["default"].set(victim.store.key, value, 500)
    tokens.clear_process_memory()
    assert victim.access_token() != stolen


def test_a_forged_invalid_client_block_is_capped(api_client, fake_provider, clock):
    far = clock.wall_time + 1e8
    caches["default"].set(
        api_client.store.keys.invalid, {"until": far, "status": 401, "error": "invalid_client"}
    )
    with pytest.raises(InvalidCredentialsError, match=f"for {INVALID_CLIENT_MEMORY}s"):
        api_client.access_token()
    assert fake_provider.token_requests == 0


def test_a_forged_retry_after_block_is_capped(api_client, fake_provider, clock):
    far = clock.wall_time + 1e8
    caches["default"].set(api_client.store.keys.backoff, {"until": far, "status": 503})
    with pytest.raises(TokenEndpointError, match=f"for {MAX_BACKOFF}s"):
        api_client.access_token()


def test_a_long_retry_after_blocks_for_at_most_the_documented_maximum(
    api_client, fake_provider, clock, apiauth
):
    apiauth(MAX_RETRIES=0)
    fake_provider.fail_token_requests(status=503, headers={"Retry-After": "3000"})
    with pytest.raises(TokenEndpointError):
        api_client.access_token()
    block = caches["default"].get(api_client.store.keys.backoff)
    assert block["until"] <= clock.wall_time + MAX_BACKOFF


# --- checks -----------------------------------------------------------------------


def ids(messages):
    return {message.id for message in messages}


def test_the_default_timing_settings_hold_together():
    assert checks.check_token_timing() == []


@pytest.mark.parametrize(
    ("values", "check_id"),
    [
        ({"LOCK_TIMEOUT": 60, "REFRESH_MARGIN": 30}, "django_apiauth.E022"),
        ({"TIMEOUT": (5, 30), "MAX_RETRIES": 2}, "django_apiauth.E023"),
        ({"CACHE_TIMEOUT": 5}, "django_apiauth.E024"),
    ],
)
def test_contradictory_timing_settings_are_refused(apiauth, values, check_id):
    apiauth(**values)
    assert check_id in ids(checks.check_token_timing())


def test_a_bad_cache_timeout_is_reported(apiauth):
    apiauth(CACHE_TIMEOUT=0)
    assert "django_apiauth.E021" in ids(checks.check_token_cache())


@pytest.mark.parametrize(
    ("options", "warned"),
    [
        ({}, True),
        ({"socket_timeout": 1}, True),
        ({"socket_timeout": 1, "socket_connect_timeout": 1}, False),
        ({"SOCKET_TIMEOUT": 1, "SOCKET_CONNECT_TIMEOUT": 1}, False),  # django-redis spelling
    ],
)
def test_a_redis_token_cache_without_socket_timeouts_is_warned_about(settings, options, warned):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/5",
            "OPTIONS": options,
        }
    }
    assert ("django_apiauth.W010" in ids(checks.check_redis_socket_timeouts())) is warned


def test_other_caches_need_no_socket_timeouts():
    assert checks.check_redis_socket_timeouts() == []


def test_a_cold_wait_is_bounded_by_the_fetch_budget_and_the_lease(apiauth):
    from django_apiauth.tokens import timing as token_timing

    apiauth(TIMEOUT=(1, 2), MAX_RETRIES=1, LOCK_TIMEOUT=4)
    assert token_timing.cold_wait_limit() == 2 * 3 + 4 + 1
