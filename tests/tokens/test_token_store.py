"""The token store: memory, shared cache, single flight, refresh-ahead, remembered failures."""

from __future__ import annotations

import json
import logging
import pickle
import threading
import time

import pytest
from django.core.cache import caches

from django_apiauth import crypto
from django_apiauth.client import ApiClient
from django_apiauth.conf import api_settings
from django_apiauth.exceptions import InvalidCredentialsError, TokenEndpointError
from django_apiauth.tokens import shared_cache as token_cache
from django_apiauth.tokens import store as tokens
from django_apiauth.tokens.store import TokenStore
from django_apiauth.tokens.values import CACHE_CONTEXT, Block, CacheKeys, new_token

from .cachebackends import HookedCache, RecordingCache, StoppableCache

pytestmark = pytest.mark.django_db


def another_process():
    """What a second worker sees: the same shared cache, empty process memory."""
    tokens.clear_process_memory()


@pytest.fixture
def recording_cache(settings):
    RecordingCache.writes = []
    RecordingCache.reads = 0
    settings.CACHES = {
        "default": {"BACKEND": "tests.tokens.cachebackends.RecordingCache", "LOCATION": "rec"}
    }
    yield caches["default"]
    caches["default"].clear()


@pytest.fixture
def stoppable_cache(settings):
    StoppableCache.stopped = False
    StoppableCache.failures = 0
    StoppableCache.fail_next = 0
    settings.CACHES = {
        "default": {"BACKEND": "tests.tokens.cachebackends.StoppableCache", "LOCATION": "stop"}
    }
    yield StoppableCache
    StoppableCache.stopped = False
    StoppableCache.fail_next = 0
    caches["default"].clear()


# --- memory, then cache, then provider --------------------------------------------


def test_the_second_call_is_served_from_process_memory(api_client, fake_provider):
    assert api_client.access_token() == api_client.access_token()
    assert fake_provider.token_requests == 1


def test_a_memory_hit_makes_no_cache_round_trip_and_no_decryption(
    api_client, recording_cache, monkeypatch
):
    api_client.access_token()
    reads = RecordingCache.reads
    monkeypatch.setattr(crypto, "decrypt", lambda *a, **k: pytest.fail("decrypted on a hit"))
    api_client.access_token()
    assert RecordingCache.reads == reads


def test_another_process_takes_the_token_from_the_shared_cache(api_client, fake_provider):
    first = api_client.access_token()
    another_process()
    assert ApiClient(api_client.credential).access_token() == first
    assert fake_provider.token_requests == 1


def test_the_shared_value_is_encrypted_with_its_own_context(api_client, recording_cache):
    token = api_client.access_token()
    key, stored, _ = next(w for w in RecordingCache.writes if w[0] == api_client.store.key)
    assert token not in stored
    assert json.loads(crypto.decrypt(stored, context=CACHE_CONTEXT))["t"] == token
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored)  # the default context (or a model column's) does not open it


def test_the_shared_value_lives_expires_in_minus_the_leeway(api_client, recording_cache, apiauth):
    apiauth(EXPIRY_LEEWAY=10)
    api_client.access_token()
    _, _, timeout = next(w for w in RecordingCache.writes if w[0] == api_client.store.key)
    assert 589 <= timeout <= 590


def test_an_unreadable_shared_value_is_a_miss_not_an_error(api_client, fake_provider):
    caches["default"].set(api_client.store.key, "v1:garbage:garbage")
    assert api_client.access_token()
    assert fake_provider.token_requests == 1


def test_the_cache_key_is_prefix_pk_and_a_fingerprint_without_secrets(credential, fake_provider):
    store = TokenStore(credential)
    assert store.key.startswith(f"{CacheKeys.prefix}{credential.pk}:")
    assert fake_provider.api_secret not in store.key
    assert fake_provider.api_key not in store.key


@pytest.mark.parametrize(
    "change",
    [
        {"api_secret": "a-new-secret"},
        {"api_key": "a-new-key"},
        {"base_url": "https://other-provider.test"},
    ],
)
def test_editing_the_credential_orphans_its_token(credential, change):
    before = TokenStore(credential).key
    for field, value in change.items():
        setattr(credential, field, value)
    assert TokenStore(credential).key != before


def test_the_fingerprint_depends_on_the_encryption_key(credential, apiauth):
    before = TokenStore(credential).key
    apiauth(ENCRYPTION_KEYS=[crypto.generate_key()])
    crypto.get_key_ring.cache_clear()
    assert TokenStore(credential).key != before


def test_a_token_never_shows_its_value_and_cannot_be_pickled(api_client):
    token = api_client.store.get()
    assert token.value not in repr(token)
    assert token.value not in str(token)
    with pytest.raises(TypeError):
        pickle.dumps(token)


# --- lifetimes and refresh-ahead (fake clocks) ---------------------------------------


def test_expiry_counts_from_when_the_request_was_sent(api_client, fake_provider, clock, apiauth):
    apiauth(EXPIRY_LEEWAY=10, REFRESH_MARGIN=60)
    fake_provider.before_token_request = lambda request: clock.advance(5)  # a slow answer
    sent_at = clock.mono
    token = api_client.store.get()
    assert token.use_until == sent_at + 600 - 10
    assert token.refresh_at == sent_at + 600 - 10 - 60


def test_the_refresh_margin_is_at_most_a_quarter_of_the_lifetime(
    api_client, fake_provider, clock, apiauth
):
    apiauth(REFRESH_MARGIN=60, EXPIRY_LEEWAY=10)
    fake_provider.expires_in = 8
    api_client.access_token()
    for _ in range(3):  # 0..3 s of an 8 s token: no refresh yet
        clock.advance(1)
        api_client.access_token()
    assert fake_provider.token_requests == 1


def settled(store):
    """The token once the background obtain running now (if any) is done."""
    return store.pending().result(timeout=10)


def test_within_the_margin_a_call_gets_the_current_token_and_a_refresh_starts_behind_it(
    api_client, fake_provider, clock, apiauth
):
    apiauth(REFRESH_MARGIN=60, EXPIRY_LEEWAY=10)
    old = api_client.access_token()
    clock.advance(600 - 10 - 30)  # 30 s before the token stops being used
    assert api_client.access_token() == old  # at once: the refresh runs in the background
    new = settled(api_client.store).value
    assert new != old
    assert api_client.access_token() == new
    assert fake_provider.token_requests == 2


def test_the_refresh_window_grows_with_the_measured_fetch_latency(
    api_client, fake_provider, clock, apiauth
):
    apiauth(REFRESH_MARGIN=1, EXPIRY_LEEWAY=10)
    fake_provider.before_token_request = lambda request: clock.advance(20)  # a 20 s fetch
    token = api_client.store.get()
    # Twice the latency (plus jitter), not the 1 s floor: the refresh is done in time.
    assert token.use_until - token.refresh_at >= 40


def test_the_refresh_window_is_at_least_the_refresh_margin(api_client, clock, apiauth):
    apiauth(REFRESH_MARGIN=45, EXPIRY_LEEWAY=10)
    token = api_client.store.get()
    assert token.use_until - token.refresh_at == 45


def test_an_expired_token_is_never_served(api_client, fake_provider, clock):
    old = api_client.access_token()
    clock.advance(601)
    fake_provider.fail_token_requests(5, status=503)
    with pytest.raises(TokenEndpointError):
        api_client.access_token()
    assert api_client.store.cached().value == old  # still held, but not served


def test_a_failed_refresh_keeps_the_valid_token_serving_and_logs_it(
    api_client, fake_provider, clock, caplog
):
    old = api_client.access_token()
    clock.advance(560)  # inside the refresh margin, 30 s of validity left
    fake_provider.fail_token_requests(3, status=503)
    with caplog.at_level(logging.WARNING, logger="django_apiauth.tokens.store"):
        assert api_client.access_token() == old
        assert settled(api_client.store).value == old
    assert "refreshing the access token of 'shop' failed (TokenEndpointError)" in caplog.text
    assert old not in caplog.text


def test_a_failed_refresh_is_retried_later_not_on_every_call(api_client, fake_provider, clock):
    api_client.access_token()
    clock.advance(560)
    fake_provider.fail_token_requests(100, status=503)
    for _ in range(20):
        api_client.access_token()
        settled(api_client.store)
    attempts = fake_provider.token_requests
    clock.advance(5)
    api_client.access_token()
    settled(api_client.store)
    assert attempts == 1 + 3  # the first token, then one refresh attempt (3 tries)
    assert fake_provider.token_requests == attempts + 3  # retried once the pause was over


def published_by_another_process(store, clock, value="from-another-process"):
    """Put a fresh token in the shared cache, as another process's refresh does."""
    token = new_token(
        value, lifetime=600, expires_at=clock.mono + 600, expires_at_wall=clock.wall_time + 600
    )
    caches["default"].set(store.key, token.as_cache_value(store.key), 590)
    return value


def test_a_refresh_done_by_another_process_is_adopted(api_client, fake_provider, clock):
    store = api_client.store
    store.get()
    clock.advance(560)
    caches["default"].add(store.lease_key, "another-process", timeout=10)
    refreshed = published_by_another_process(store, clock)
    store.get()  # in the margin: starts the background refresh, which finds the lease taken
    assert settled(store).value == refreshed
    assert fake_provider.token_requests == 1


def test_a_wall_clock_jump_does_not_touch_a_token_in_memory(api_client, fake_provider, clock):
    token = api_client.access_token()
    clock.wall_time += 3600  # NTP step forward; monotonic time is unaffected
    assert api_client.access_token() == token
    clock.wall_time -= 7200
    assert api_client.access_token() == token
    assert fake_provider.token_requests == 1


def test_a_shared_value_read_after_the_wall_clock_jumped_ahead_is_not_used(
    api_client, fake_provider, clock
):
    api_client.access_token()
    another_process()
    clock.wall_time += 3600
    api_client.access_token()
    assert fake_provider.token_requests == 2


def test_a_wall_clock_jump_back_cannot_stretch_a_shared_token(api_client, clock, apiauth):
    apiauth(EXPIRY_LEEWAY=10)
    api_client.access_token()
    clock.advance(300)
    another_process()
    clock.wall_time -= 3600  # the shared value now looks like it has 3900 s left
    token = api_client.store.get()
    assert token.use_until <= clock.mono + 600 - 10


# --- single flight ----------------------------------------------------------------------


def test_concurrent_cold_calls_in_one_process_make_one_token_request(api_client, fake_provider):
    fake_provider.before_token_request = lambda request: time.sleep(0.2)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(api_client.access_token()))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert len(results) == 16
    assert fake_provider.token_requests == 1


def test_during_a_refresh_other_threads_keep_the_current_token_without_waiting(
    api_client, fake_provider, clock
):
    old = api_client.access_token()
    clock.advance(560)
    refreshing, release = threading.Event(), threading.Event()

    def blocked_answer(request):
        refreshing.set()
        release.wait(5)

    fake_provider.before_token_request = blocked_answer
    assert api_client.access_token() == old  # starts the refresh
    assert refreshing.wait(5)
    try:
        assert api_client.access_token() == old  # not blocked behind the refresh
    finally:
        release.set()
    assert settled(api_client.store).value != old


def test_a_caller_waits_for_another_process_holding_the_lease(api_client, fake_provider, clock):
    store = api_client.store
    caches["default"].add(store.lease_key, "someone-else", timeout=10)
    published = []

    def other_process_publishes(seconds):
        clock.advance(seconds)
        if not published:
            published.append(published_by_another_process(store, clock))

    clock.on_sleep = other_process_publishes
    token = store.get()
    assert fake_provider.token_requests == 0
    assert token.value == published[0]


def test_a_holder_done_between_our_look_and_our_lease_is_adopted(
    api_client, fake_provider, clock, hooked_cache
):
    # Another process fetched, shared its token and gave the lease back after this
    # process found the cache empty but before it asked for the lease: the lease is
    # free, and taking it must not mean a second fetch (a cold fleet saw 2 on CI).
    store = api_client.store
    published = []
    hooked_cache.before_add = lambda: published.append(published_by_another_process(store, clock))
    assert store.get().value == published[0]
    assert fake_provider.token_requests == 0
    # Given back (by the obtain thread, just after the adopt), not left to expire.
    deadline = time.monotonic() + 5
    while caches["default"].get(store.lease_key) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert caches["default"].get(store.lease_key) is None


def test_a_refusal_shared_between_our_look_and_our_lease_is_honoured(
    api_client, fake_provider, clock, hooked_cache
):
    store = api_client.store
    refused = Block("invalid", clock.wall_time + 300, 401, "invalid_client")
    hooked_cache.before_add = lambda: caches["default"].set(
        store.keys.invalid, refused.as_cache_value(), 300
    )
    with pytest.raises(InvalidCredentialsError, match="not asking again"):
        store.get()
    assert fake_provider.token_requests == 0


def test_a_waiter_whose_holder_finished_between_two_looks_adopts_its_token(
    api_client, fake_provider, clock, hooked_cache
):
    store = api_client.store
    caches["default"].add(store.lease_key, "another-process", timeout=10)
    published = []

    def holder_finishes():
        published.append(published_by_another_process(store, clock))
        caches["default"].delete(store.lease_key)

    def holder_finishes_after_our_look(seconds):
        clock.advance(seconds)
        # The waiter's next look at the cache comes first, then its lease attempt.
        hooked_cache.before_add = holder_finishes

    clock.on_sleep = holder_finishes_after_our_look
    assert store.get().value == published[0]
    assert fake_provider.token_requests == 0


def test_a_dead_lease_holder_is_waited_out_then_the_caller_fetches(
    api_client, fake_provider, apiauth
):
    apiauth(LOCK_TIMEOUT=1)
    caches["default"].add(api_client.store.lease_key, "killed-worker", timeout=1)
    assert api_client.access_token()
    assert fake_provider.token_requests == 1


def test_a_holder_that_gave_up_lets_a_waiter_fetch_at_once(
    api_client, fake_provider, clock, apiauth
):
    apiauth(LOCK_TIMEOUT=60)
    lease_key = api_client.store.lease_key
    caches["default"].add(lease_key, "failing-worker", timeout=60)
    waits = []

    def holder_releases(seconds):
        waits.append(seconds)
        caches["default"].delete(lease_key)

    clock.on_sleep = holder_releases
    assert api_client.access_token()
    assert len(waits) == 1


def test_a_waiter_gives_up_after_the_lock_timeout_and_fetches(
    api_client, fake_provider, clock, apiauth, caplog
):
    apiauth(LOCK_TIMEOUT=2)
    caches["default"].add(api_client.store.lease_key, "stuck", timeout=3600)
    assert api_client.access_token()
    assert fake_provider.token_requests == 1
    assert "gave up waiting" in caplog.text


def test_a_lock_timeout_under_a_second_still_holds_the_lease(api_client, apiauth):
    apiauth(LOCK_TIMEOUT=0.5)
    lease_key = api_client.store.lease_key
    lock_timeout = api_settings.validated("LOCK_TIMEOUT")
    lease = token_cache.acquire_lease(lease_key, lock_timeout)
    assert lease is not None
    # A cache timeout of 0 means "already expired": every process would fetch.
    assert caches["default"].get(lease_key) == lease
    assert token_cache.acquire_lease(lease_key, lock_timeout) is None


# --- remembered failures ---------------------------------------------------------------


def test_invalid_client_is_remembered_without_asking_again(api_client, fake_provider, clock):
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    with pytest.raises(InvalidCredentialsError):
        api_client.access_token()
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError, match="not asking again"):
            api_client.access_token()
    assert fake_provider.token_requests == 1


def test_invalid_client_is_remembered_fleet_wide(api_client, fake_provider, clock):
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    with pytest.raises(InvalidCredentialsError):
        api_client.access_token()
    another_process()
    with pytest.raises(InvalidCredentialsError):
        ApiClient(api_client.credential).access_token()
    assert fake_provider.token_requests == 1


def test_invalid_client_is_asked_again_after_thirty_seconds(api_client, fake_provider, clock):
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    with pytest.raises(InvalidCredentialsError):
        api_client.access_token()
    clock.advance(31)  # (the cache entry itself is still there: LocMem uses the real clock)
    assert api_client.access_token()
    assert fake_provider.token_requests == 2


def test_a_corrected_secret_is_tried_at_once(fake_provider, clock):
    credential = fake_provider.create_credential(name="typo", api_secret="a-typo")
    with pytest.raises(InvalidCredentialsError):
        ApiClient(credential).access_token()
    credential.api_secret = fake_provider.api_secret  # fixed in the admin: a new fingerprint
    assert ApiClient(credential).access_token()
    assert fake_provider.token_requests == 2


def test_retry_after_is_honoured_fleet_wide(api_client, fake_provider, clock, apiauth):
    apiauth(MAX_RETRIES=0)
    fake_provider.fail_token_requests(status=503, headers={"Retry-After": "120"})
    with pytest.raises(TokenEndpointError):
        api_client.access_token()
    another_process()
    with pytest.raises(TokenEndpointError, match="asked to wait"):
        ApiClient(api_client.credential).access_token()
    assert fake_provider.token_requests == 1
    clock.advance(121)
    assert api_client.access_token()


def test_a_long_retry_after_is_not_slept_inside_the_call(api_client, fake_provider, apiauth):
    apiauth(MAX_RETRIES=3)
    fake_provider.fail_token_requests(4, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(TokenEndpointError) as info:
        api_client.access_token()
    assert info.value.status_code == 429
    assert fake_provider.token_requests == 1  # no retry: it would have had to wait an hour


def test_a_short_retry_after_is_waited_within_the_call(api_client, fake_provider, apiauth):
    apiauth(MAX_RETRIES=2)
    fake_provider.fail_token_requests(status=503, headers={"Retry-After": "1"})
    assert api_client.access_token()
    assert fake_provider.token_requests == 2


# --- compare-and-delete ---------------------------------------------------------------


def test_invalidating_a_dead_token_drops_it_everywhere(api_client, fake_provider):
    dead = api_client.access_token()
    api_client.store.invalidate(dead)
    another_process()
    assert api_client.access_token() != dead
    assert fake_provider.token_requests == 2


def test_invalidating_a_token_that_was_already_replaced_keeps_the_new_one(
    api_client, fake_provider
):
    dead = api_client.access_token()
    api_client.store.invalidate(dead)
    fresh = api_client.access_token()
    api_client.store.invalidate(dead)  # a late 401 for the old token
    another_process()
    assert api_client.access_token() == fresh
    assert fake_provider.token_requests == 2


def test_invalidate_token_drops_it_unconditionally(api_client, fake_provider):
    token = api_client.access_token()
    api_client.invalidate_token()
    assert api_client.store.cached() is None
    assert caches["default"].get(api_client.store.key) is None
    assert api_client.access_token() != token


@pytest.fixture
def hooked_cache(settings):
    HookedCache.before_add = HookedCache.before_delete = None
    settings.CACHES = {
        "default": {"BACKEND": "tests.tokens.cachebackends.HookedCache", "LOCATION": "hooked"}
    }
    yield HookedCache
    HookedCache.before_add = HookedCache.before_delete = None
    caches["default"].clear()


@pytest.mark.parametrize("compare", [True, False], ids=["compare-and-delete", "unconditional"])
def test_a_call_racing_an_invalidation_does_not_bring_the_token_back(
    api_client, fake_provider, hooked_cache, compare
):
    dead = api_client.access_token()
    # Another thread's call lands while the token is being dropped (the hook runs
    # it inline, just before the shared value is deleted).
    hooked_cache.before_delete = api_client.store.get
    api_client.store.invalidate(dead if compare else None)
    assert getattr(api_client.store.cached(), "value", None) != dead
    assert api_client.access_token() != dead
    assert fake_provider.token_requests == 2


def test_clear_also_forgets_remembered_failures(api_client, fake_provider):
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    with pytest.raises(InvalidCredentialsError):
        api_client.access_token()
    api_client.store.clear()
    assert api_client.access_token()


# --- the shared cache failing --------------------------------------------------------


def test_with_the_cache_down_calls_still_get_tokens(api_client, fake_provider, stoppable_cache):
    stoppable_cache.stopped = True
    assert api_client.access_token() == api_client.access_token()
    assert fake_provider.token_requests == 1
    assert stoppable_cache.failures >= 1


def test_the_cache_stopping_mid_run_does_not_fail_a_call(
    api_client, fake_provider, stoppable_cache, clock
):
    first = api_client.access_token()
    stoppable_cache.stopped = True
    assert api_client.access_token() == first  # memory: the cache is not even asked
    clock.advance(601)
    assert api_client.access_token() != first  # expired: fetched directly
    assert fake_provider.token_requests == 2


def test_a_down_cache_is_warned_about_once_without_its_error_text(
    api_client, fake_provider, stoppable_cache, clock, caplog
):
    stoppable_cache.stopped = True
    with caplog.at_level(logging.WARNING, logger="django_apiauth.tokens.store"):
        for _ in range(3):
            api_client.invalidate_token()
            clock.advance(6)
            api_client.access_token()
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert "CacheDown" in warnings[0].getMessage()
    assert "hunter2" not in caplog.text


def test_a_down_cache_is_left_alone_for_a_while(api_client, fake_provider, stoppable_cache, clock):
    stoppable_cache.stopped = True
    api_client.access_token()
    failures = stoppable_cache.failures
    api_client.invalidate_token()
    api_client.access_token()
    assert stoppable_cache.failures == failures


def test_the_cache_is_used_again_once_it_is_back(api_client, fake_provider, stoppable_cache, clock):
    stoppable_cache.stopped = True
    api_client.access_token()
    stoppable_cache.stopped = False
    clock.advance(601)
    token = api_client.access_token()
    another_process()
    assert ApiClient(api_client.credential).access_token() == token


def test_with_the_cache_down_invalid_client_is_still_remembered(
    api_client, fake_provider, stoppable_cache
):
    stoppable_cache.stopped = True
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    for _ in range(3):
        with pytest.raises(InvalidCredentialsError):
            api_client.access_token()
    assert fake_provider.token_requests == 1


def test_a_remembered_failure_ends_on_time_when_the_wall_clock_steps_back(
    api_client, fake_provider, stoppable_cache, clock
):
    stoppable_cache.stopped = True  # only this process's memory of the failure counts
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    with pytest.raises(InvalidCredentialsError):
        api_client.access_token()
    clock.wall_time -= 3600  # NTP corrects a clock that ran an hour ahead
    clock.mono += 31
    assert api_client.access_token()  # asked again after 30 s, not after an hour
    assert fake_provider.token_requests == 2


def test_a_cache_blip_during_a_fetch_does_not_leave_the_lease_behind(
    api_client, fake_provider, stoppable_cache, clock
):
    def blip(request):
        stoppable_cache.fail_next = 1  # the write of the new token fails, then the cache is back

    fake_provider.before_token_request = blip
    assert api_client.access_token()
    assert stoppable_cache.failures == 1
    # A lease left in place makes every other process wait LOCK_TIMEOUT for nothing.
    assert caches["default"].get(api_client.store.lease_key) is None


def test_a_misconfigured_cache_alias_degrades_too(api_client, fake_provider, apiauth):
    apiauth(CACHE_ALIAS="no-such-cache")
    assert api_client.access_token()
