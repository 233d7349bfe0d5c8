"""Nobody waits on a lock across I/O: hung endpoints and caches, dead lease holders."""

from __future__ import annotations

import logging
import threading

import pytest
from django.core.cache import caches

from django_apiauth.models import ApiCredential
from django_apiauth.tokens import shared_cache as token_cache
from django_apiauth.tokens.store import TokenStore
from django_apiauth.tokens.values import new_token

from .cachebackends import HangingCache

pytestmark = pytest.mark.django_db


def publish(store, clock=None, value="put-there-by-another-host", lifetime=600):
    """Put a usable token in the shared cache, as another host's fetch does."""
    import time

    mono = clock.mono if clock else time.monotonic()
    wall = clock.wall_time if clock else time.time()
    token = new_token(
        value, lifetime=lifetime, expires_at=mono + lifetime, expires_at_wall=wall + lifetime
    )
    caches["default"].set(store.key, token.as_cache_value(store.key), lifetime - 10)
    return value


@pytest.fixture
def hung_endpoint(fake_provider):
    started, release = threading.Event(), threading.Event()

    def hang(request):
        started.set()
        release.wait(30)

    fake_provider.before_token_request = hang
    yield started
    release.set()


def test_a_cold_caller_adopts_a_token_another_host_put_in_the_cache_while_its_fetch_hangs(
    api_client, hung_endpoint
):
    store = api_client.store
    results = []
    caller = threading.Thread(target=lambda: results.append(store.get().value))
    caller.start()
    assert hung_endpoint.wait(10)  # our own fetch is under way, and hangs
    published = publish(store)
    caller.join(20)
    assert results == [published]


def test_a_cancelled_waiter_does_not_cancel_the_obtain(api_client, hung_endpoint):
    future = api_client.store.pending()
    assert future.cancel() is False  # already running: shared by every waiter
    assert hung_endpoint.wait(10)
    published = publish(api_client.store)
    assert future.result(timeout=20).value == published


def test_a_dead_lease_holder_costs_nobody_a_wait_while_the_token_is_valid(
    api_client, fake_provider, clock
):
    store = api_client.store
    old = store.get()
    caches["default"].add(store.lease_key, "killed-worker", timeout=3600)
    clock.advance(old.refresh_at - clock.mono + 1)  # in the refresh window
    assert store.get().value == old.value  # at once, with the lease held by a dead process
    new = store.pending().result(timeout=20)  # the background obtain waited the lease out
    assert new.value != old.value
    assert fake_provider.token_requests == 2


def test_the_lease_is_renewed_while_a_slow_fetch_runs(api_client, fake_provider, apiauth, clock):
    apiauth(LOCK_TIMEOUT=3)
    store = api_client.store
    renewed = threading.Event()

    def slow_answer(request):
        for _ in range(200):  # time passes while the provider thinks; the obtain renews
            clock.advance(0.5)
            if renewed.wait(0.05):
                return

    fake_provider.before_token_request = slow_answer
    original = token_cache.renew_lease

    def spy(key, lease, timeout):
        original(key, lease, timeout)
        if key == store.lease_key and isinstance(lease, str):
            renewed.set()

    token_cache.renew_lease = spy
    try:
        assert store.get()
    finally:
        token_cache.renew_lease = original
    assert renewed.is_set()


# --- a hung cache ---------------------------------------------------------------


@pytest.fixture
def hanging_cache(settings, apiauth):
    apiauth(CACHE_TIMEOUT=0.05)
    HangingCache.release = threading.Event()
    settings.CACHES = {
        "default": {"BACKEND": "tests.tokens.cachebackends.HangingCache", "LOCATION": "hang"}
    }
    yield HangingCache
    HangingCache.release.set()


def test_a_hung_cache_does_not_hold_a_cold_call(api_client, fake_provider, hanging_cache, caplog):
    with caplog.at_level(logging.WARNING, logger="django_apiauth.tokens.store"):
        assert api_client.access_token()
    assert fake_provider.token_requests == 1
    assert token_cache.is_down()
    assert "no answer within 0.05s" in caplog.text


def test_a_hung_cache_is_not_asked_again_at_once(api_client, fake_provider, hanging_cache):
    api_client.access_token()
    calls = hanging_cache.calls
    api_client.invalidate_token()
    api_client.access_token()
    assert hanging_cache.calls == calls


# --- memory is bounded -------------------------------------------------------------


def unsaved_credential(pk, secret="secret"):
    return ApiCredential(
        pk=pk,
        name=f"shop-{pk}",
        base_url="https://provider.test",
        api_key=f"key-{pk}",
        api_secret=secret,
    )


@pytest.mark.slow  # 4,000 stores and obtains
def test_a_thousand_credentials_edited_three_times_hold_at_most_a_thousand_entries(db):
    from django_apiauth.tokens import memory as token_memory

    for edit in range(4):
        for pk in range(1, 1001):
            store = TokenStore(unsaved_credential(pk, secret=f"secret-{edit}"))
            publish(store, value=f"token-{pk}-{edit}")
            assert store.get().value == f"token-{pk}-{edit}"
    assert len(token_memory.slots()) <= 1000


def test_an_edit_replaces_the_entry_of_its_credential(db):
    from django_apiauth.tokens import memory as token_memory

    TokenStore(unsaved_credential(1, secret="before"))
    TokenStore(unsaved_credential(1, secret="after"))
    assert len(token_memory.slots()) == 1


def test_expired_entries_are_swept(db, clock):
    from django_apiauth.tokens import memory as token_memory

    store = TokenStore(unsaved_credential(1))
    publish(store, clock, lifetime=60)
    store.get()
    clock.advance(token_memory.SWEEP_INTERVAL + 61)
    TokenStore(unsaved_credential(2))
    assert len(token_memory.slots()) == 1
