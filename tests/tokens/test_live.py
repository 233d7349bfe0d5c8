"""Against a real HTTP provider on loopback (the sandbox) and, where marked, real Redis."""

from __future__ import annotations

import math
import multiprocessing
import socket
import time

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches

from django_apiauth.client import ApiClient
from django_apiauth.models import ApiCredential
from django_apiauth.testing import start_sandbox
from django_apiauth.testing.fleet import hold_lease_forever, run_fleet
from django_apiauth.tokens import store as tokens

pytestmark = [pytest.mark.live, pytest.mark.django_db]

PROCESSES = 4
THREADS = 8


@pytest.fixture
def live_sandbox(apiauth):
    # Not the plugin's sandbox_provider: that one moves the token cache to a
    # private in-memory alias, and these tests are about the real shared cache.
    apiauth(ALLOW_INSECURE_LOOPBACK=True)
    with start_sandbox() as server:
        yield server


@pytest.fixture
def sandbox_credential(live_sandbox):
    account = live_sandbox.account
    return ApiCredential.objects.create(
        name="sandbox",
        base_url=live_sandbox.url,
        api_key=account.api_key,
        api_secret=account.api_secret,
        dashboard_username=account.dashboard_username,
        dashboard_password=account.dashboard_password,
    )


def fleet_config(sandbox, cache, **extra):
    account = sandbox.account
    return {
        "cache": cache,
        "apiauth": dict(django_settings.APIAUTH),
        "credential": {
            "base_url": sandbox.url,
            "api_key": account.api_key,
            "api_secret": account.api_secret,
        },
        "threads": THREADS,
        **extra,
    }


def redis_cache(url):
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}


def assert_all_succeeded(outcomes, calls_per_thread=None):
    errors = [error for outcome in outcomes for error in outcome["errors"]]
    assert errors == []
    if calls_per_thread is not None:
        assert sum(o["ok"] for o in outcomes) == PROCESSES * THREADS * calls_per_thread


# --- one process against the real server ----------------------------------------------


def test_calls_share_one_token_over_real_http(live_sandbox, sandbox_credential):
    client = ApiClient(sandbox_credential)
    for _ in range(5):
        assert client.get("/api/merchant").status_code == 200
    assert live_sandbox.state.snapshot()["token_requests"] == 1


def test_a_token_revoked_early_heals_with_one_refetch(live_sandbox, sandbox_credential):
    client = ApiClient(sandbox_credential)
    client.get("/api/merchant")
    live_sandbox.state.revoke_tokens()
    response = client.post("/api/echo", json={"n": 1})
    assert response.status_code == 200
    assert response.json()["body"] == '{"n": 1}'
    assert live_sandbox.state.snapshot()["token_requests"] == 2


def test_basic_calls_reach_the_dashboard_endpoint(live_sandbox, sandbox_credential):
    response = ApiClient(sandbox_credential).get("/api/dashboard/merchant", auth="basic")
    assert response.status_code == 200


def test_check_against_the_sandbox(live_sandbox, sandbox_credential, apiauth):
    apiauth(CHECK_PATH="/api/merchant")
    result = ApiClient(sandbox_credential).check()
    assert result.ok, result.detail
    assert result.status_code == 200


def test_a_wrong_secret_costs_the_provider_one_request(live_sandbox, sandbox_credential):
    sandbox_credential.api_secret = "wrong"
    client = ApiClient(sandbox_credential)
    for _ in range(10):
        with pytest.raises(Exception, match="invalid_client"):
            client.get("/api/merchant")
    assert live_sandbox.state.snapshot()["token_requests"] == 1


# --- fleets: processes x threads through real Redis ---------------------------------------


@pytest.mark.slow  # a fleet of processes
@pytest.mark.redis
def test_a_cold_fleet_shares_exactly_one_token(live_sandbox, redis_cache_settings):
    config = fleet_config(live_sandbox, redis_cache_settings, calls=5)
    outcomes = run_fleet(PROCESSES, config)
    assert_all_succeeded(outcomes, calls_per_thread=5)
    assert live_sandbox.state.snapshot()["token_requests"] == 1


@pytest.mark.slow  # a fleet of processes
@pytest.mark.redis
def test_a_fleet_fetches_one_token_per_lifetime(live_sandbox, redis_cache_settings, apiauth):
    # The leeway covers a request's trip to the provider on a loaded 2-core machine.
    lifetime, leeway, margin, duration = 3, 0.75, 0.3, 7.5
    apiauth(EXPIRY_LEEWAY=leeway, REFRESH_MARGIN=margin)
    live_sandbox.state.token_lifetime = lifetime
    config = fleet_config(live_sandbox, redis_cache_settings, duration=duration, pause=0.02)
    outcomes = run_fleet(PROCESSES, config)
    assert_all_succeeded(outcomes)
    counters = live_sandbox.state.snapshot()
    # A token is replaced once per (lifetime - leeway - refresh window): never once per
    # worker. The window starts at the margin and grows with the measured fetch latency,
    # up to a quarter of the lifetime; on a saturated machine one refresh may also miss
    # the cache budget and be fetched directly (the + 2: the cold start and that one).
    window = lifetime / 4
    most = math.ceil(duration / (lifetime - leeway - window)) + 2
    assert math.floor(duration / lifetime) <= counters["token_requests"] <= most


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # a fleet of processes
def test_with_redis_stopped_every_call_of_a_fleet_succeeds(live_sandbox):
    dead_redis = redis_cache(f"redis://127.0.0.1:{closed_port()}/13")
    config = fleet_config(live_sandbox, dead_redis, calls=5)
    outcomes = run_fleet(PROCESSES, config)
    assert_all_succeeded(outcomes, calls_per_thread=5)
    # No shared cache: one token per process, still not one per thread.
    assert 1 <= live_sandbox.state.snapshot()["token_requests"] <= PROCESSES


@pytest.mark.redis
def test_redis_stopping_mid_run_does_not_fail_calls(
    live_sandbox, sandbox_credential, redis_cache_settings, settings
):
    client = ApiClient(sandbox_credential)
    assert client.get("/api/merchant").status_code == 200
    settings.CACHES = {"default": redis_cache(f"redis://127.0.0.1:{closed_port()}/13")}
    tokens.clear_process_memory()  # a fresh worker, and Redis is gone
    assert ApiClient(sandbox_credential).get("/api/merchant").status_code == 200


@pytest.mark.slow  # a fleet of processes
@pytest.mark.redis
def test_a_killed_lease_holder_is_waited_out(live_sandbox, redis_cache_settings, apiauth):
    apiauth(LOCK_TIMEOUT=2)
    config = fleet_config(live_sandbox, redis_cache_settings)
    # The same (unsaved) credential as the worker's: same pk, same fingerprint.
    credential = ApiCredential(pk=1, name="fleet", **config["credential"])
    lease_key = ApiClient(credential).store.lease_key
    live_sandbox.state.set_delay(10, "token")  # the holder's fetch hangs...
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=hold_lease_forever, args=(config, ready))
    holder.start()
    try:
        assert ready.wait(30)
        deadline = time.monotonic() + 30
        while caches["default"].get(lease_key) is None:
            assert time.monotonic() < deadline, "the holder never took the lease"
            time.sleep(0.05)
    finally:
        holder.kill()  # ...and the holder dies with the lease taken
        holder.join()
    live_sandbox.state.set_delay(0, "token")
    assert caches["default"].get(lease_key) is not None
    assert ApiClient(credential).get("/api/merchant").status_code == 200
    assert live_sandbox.state.snapshot()["tokens_issued"] == 1


@pytest.mark.redis
def test_the_token_in_redis_is_encrypted_and_expires(
    live_sandbox, sandbox_credential, redis_cache_settings
):
    import redis

    client = ApiClient(sandbox_credential)
    token = client.access_token()
    raw = redis.Redis.from_url(redis_cache_settings["LOCATION"])
    keys = list(raw.scan_iter(match=f"{redis_cache_settings['KEY_PREFIX']}:*{client.store.key}"))
    assert len(keys) == 1
    assert token.encode() not in raw.get(keys[0])
    assert 0 < raw.ttl(keys[0]) <= 600 - 10
