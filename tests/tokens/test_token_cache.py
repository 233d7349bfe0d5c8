"""The one door to the token cache: soft failure, back-off, one warning, the fleet lease."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches

from django_apiauth.tokens import shared_cache as token_cache

from .cachebackends import StoppableCache

OPERATIONS = [
    ("get", lambda: token_cache.get("k"), None),
    ("get_many", lambda: token_cache.get_many(["k", "l"]), {}),
    ("set", lambda: token_cache.set("k", "v", 10), None),
    ("delete", lambda: token_cache.delete("k"), None),
    ("delete_many", lambda: token_cache.delete_many(["k"]), None),
    ("acquire_lease", lambda: token_cache.acquire_lease("lease", 10), token_cache.NO_CACHE_LEASE),
]


@pytest.fixture
def stopped_cache(settings):
    StoppableCache.stopped = True
    StoppableCache.failures = 0
    StoppableCache.fail_next = 0
    settings.CACHES = {
        "default": {"BACKEND": "tests.tokens.cachebackends.StoppableCache", "LOCATION": "door"}
    }
    token_cache.reset()
    yield StoppableCache
    StoppableCache.stopped = False
    caches["default"].clear()


@pytest.mark.parametrize(
    ("name", "operation", "fallback"), OPERATIONS, ids=[o[0] for o in OPERATIONS]
)
def test_a_failing_cache_gives_the_nothing_there_answer(stopped_cache, name, operation, fallback):
    assert operation() == fallback
    assert stopped_cache.failures == 1


def test_one_failure_gives_one_warning_without_the_error_text(stopped_cache, clock, caplog):
    caplog.set_level(logging.WARNING, logger="django_apiauth")
    for _name, operation, _fallback in OPERATIONS:
        operation()
        clock.advance(token_cache.RETRY_INTERVAL)  # each one reaches the cache and fails
    warnings = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert stopped_cache.failures == len(OPERATIONS)
    assert warnings == [
        "the token cache 'default' is unavailable (CacheDown); tokens are kept in process "
        "memory and fetched directly until it is back"
    ]
    assert "hunter2" not in caplog.text


def test_the_warning_comes_again_after_the_warning_interval(stopped_cache, clock, caplog):
    caplog.set_level(logging.WARNING, logger="django_apiauth")
    token_cache.get("k")
    clock.advance(token_cache.WARNING_INTERVAL)
    token_cache.get("k")
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 2


def test_after_a_failure_the_cache_is_left_alone_until_the_back_off_ends(stopped_cache, clock):
    token_cache.get("k")
    for _name, operation, _fallback in OPERATIONS:
        operation()
    assert stopped_cache.failures == 1
    assert token_cache.is_down()
    clock.advance(token_cache.RETRY_INTERVAL)
    stopped_cache.stopped = False
    token_cache.set("k", "back", 10)
    assert token_cache.get("k") == "back"
    assert not token_cache.is_down()


def test_the_lease_is_taken_once_fleet_wide(db):
    first = token_cache.acquire_lease("lease", 10)
    assert isinstance(first, str)
    assert token_cache.acquire_lease("lease", 10) is None
    token_cache.release_lease("lease", first)
    assert isinstance(token_cache.acquire_lease("lease", 10), str)


def test_a_lease_is_only_released_by_its_owner():
    token_cache.acquire_lease("lease", 10)
    token_cache.release_lease("lease", "someone-else")
    assert token_cache.acquire_lease("lease", 10) is None


def test_the_lease_is_released_even_while_the_cache_is_marked_down(stopped_cache, clock):
    stopped_cache.stopped = False
    lease = token_cache.acquire_lease("lease", 10)
    stopped_cache.fail_next = 1
    token_cache.set("k", "v", 10)  # a blip: now marked down
    assert token_cache.is_down()
    token_cache.release_lease("lease", lease)
    assert caches["default"].get("lease") is None


def test_a_lease_timeout_under_a_second_is_rounded_up_not_to_zero():
    lease = token_cache.acquire_lease("lease", 0.2)
    assert caches["default"].get("lease") == lease
