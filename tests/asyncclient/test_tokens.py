"""The async client on the shared token store: one token for sync and async callers alike,
single flight, refresh ahead without waiting, the one-shot replay, cancellation, the cache down."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core.cache import caches

from django_apiauth.client import ApiClient, aget_client
from django_apiauth.clients.asynchronous import AsyncApiClient
from django_apiauth.conf import api_settings
from django_apiauth.tokens.values import Token
from tests.tokens.conftest import FakeClock

pytestmark = pytest.mark.anyio


def gate_token_requests(provider):
    """Hold every token request until ``gate.set()``; ``entered`` is set when one waits."""
    gate, entered = threading.Event(), threading.Event()

    def hold(request):
        entered.set()
        gate.wait(10)

    provider.before_token_request = hold
    return gate, entered


async def until(event: threading.Event) -> None:
    for _ in range(2000):  # a bound, so that a broken test fails instead of hanging
        if event.is_set():
            return
        await asyncio.sleep(0.005)
    pytest.fail("the token request never arrived")


# -- one store for sync and async ---------------------------------------------------


async def test_a_token_fetched_by_the_sync_client_serves_the_async_client(
    committed_credential, fake_provider
):
    sync_response = await asyncio.to_thread(ApiClient(committed_credential).get, "/api/merchant")

    response = await (await aget_client("shop")).get("/api/merchant")

    assert (
        response.request.headers["Authorization"] == sync_response.request.headers["Authorization"]
    )
    assert fake_provider.token_requests == 1


async def test_a_token_fetched_by_the_async_client_serves_the_sync_client_of_another_process(
    committed_credential, fake_provider
):
    from django_apiauth.tokens import store as tokens

    token = await (await aget_client("shop")).access_token()
    tokens.clear_process_memory()  # as another process: only the shared cache is left

    assert await asyncio.to_thread(ApiClient(committed_credential).access_token) == token
    assert fake_provider.token_requests == 1


async def test_the_async_client_writes_the_sync_cache_key_encrypted(committed_credential):
    client = await aget_client("shop")
    token = await client.access_token()

    stored = caches[api_settings.CACHE_ALIAS].get(client.store.key)

    assert isinstance(stored, str) and token not in stored
    assert Token.from_cache_value(stored, "shop", client.store.key).value == token


# -- single flight and refresh ahead ---------------------------------------------


async def test_64_tasks_starting_cold_make_one_token_request(committed_credential, fake_provider):
    client = await aget_client("shop")

    responses = await asyncio.gather(*(client.get("/api/merchant") for _ in range(64)))

    assert {r.status_code for r in responses} == {200}
    assert fake_provider.token_requests == 1


async def test_tasks_and_sync_threads_starting_cold_share_one_token_request(
    committed_credential, fake_provider
):
    gate, entered = gate_token_requests(fake_provider)
    client = await aget_client("shop")
    tasks = [asyncio.ensure_future(client.access_token()) for _ in range(16)]
    threads = [
        asyncio.ensure_future(asyncio.to_thread(ApiClient(committed_credential).access_token))
    ]
    threads += [
        asyncio.ensure_future(asyncio.to_thread(ApiClient(committed_credential).access_token))
    ]
    await until(entered)
    gate.set()

    values = await asyncio.gather(*tasks, *threads)

    assert len(set(values)) == 1
    assert fake_provider.token_requests == 1


async def test_a_call_in_the_refresh_window_does_not_wait_for_the_refresh(
    committed_credential, fake_provider, monkeypatch
):
    from django_apiauth import clock

    fake = FakeClock()
    monkeypatch.setattr(clock, "current", fake)
    client = await aget_client("shop")
    old = await client.access_token()
    token = client.store.cached()
    fake.advance(token.refresh_at + 1 - fake.mono)  # still usable, due for a refresh
    gate, entered = gate_token_requests(fake_provider)

    response = await client.get("/api/merchant")  # the refresh is held at the provider

    assert response.request.headers["Authorization"] == f"Bearer {old}"
    await until(entered)
    gate.set()
    assert (await client.bearer.wait()).value != old
    assert fake_provider.token_requests == 2


# -- the one-shot replay ---------------------------------------------------------


async def test_a_401_swaps_the_token_and_replays_once(committed_credential, fake_provider):
    client = await aget_client("shop")
    await client.get("/api/merchant")
    fake_provider.revoke_tokens()

    response = await client.post("/api/echo", json={"amount": 1})

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert fake_provider.token_requests == 2


async def test_a_403_invalid_token_swaps_the_token_and_replays_once(
    committed_credential, fake_provider
):
    client = await aget_client("shop")
    await client.get("/api/merchant")
    challenge = {"WWW-Authenticate": 'Bearer realm="p", error="invalid_token"'}
    fake_provider.state.fail_next("api", 1, status=403, headers=challenge)

    response = await client.get("/api/merchant")

    assert response.status_code == 200
    assert fake_provider.token_requests == 2


async def test_a_plain_403_is_handed_back_without_a_new_token(committed_credential, fake_provider):
    client = await aget_client("shop")
    await client.get("/api/merchant")
    fake_provider.state.fail_next("api", 1, status=403, body='{"error": "forbidden"}')

    response = await client.get("/api/merchant")

    assert response.status_code == 403
    assert fake_provider.token_requests == 1


async def test_a_second_401_is_handed_back_not_replayed_again(committed_credential, fake_provider):
    client = await aget_client("shop")
    await client.get("/api/merchant")
    fake_provider.state.fail_next("api", 2, status=401, body='{"error": "invalid_token"}')

    response = await client.get("/api/merchant")

    assert response.status_code == 401
    assert fake_provider.token_requests == 2


async def test_a_streamed_body_is_not_replayed_but_the_dead_token_is_dropped(
    committed_credential, fake_provider
):
    client = await aget_client("shop")
    dead = await client.access_token()
    fake_provider.revoke_tokens()

    async def chunks():
        yield b'{"amount": 1}'

    response = await client.post("/api/echo", content=chunks())

    assert response.status_code == 401
    assert await client.access_token() != dead


# -- faults: cancellation, closed loops, the cache down -------------------------


async def test_a_task_cancelled_while_waiting_for_the_token_leaves_no_one_stuck(
    committed_credential, fake_provider
):
    gate, entered = gate_token_requests(fake_provider)
    client = await aget_client("shop")
    first = asyncio.ensure_future(client.get("/api/merchant"))
    await until(entered)

    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.ensure_future(client.get("/api/merchant"))
    gate.set()

    assert (await second).status_code == 200
    assert fake_provider.token_requests == 1


async def test_a_task_cancelled_during_the_fetch_leaves_the_fleet_lease_free(
    committed_credential, fake_provider
):
    gate, entered = gate_token_requests(fake_provider)
    client = await aget_client("shop")
    first = asyncio.ensure_future(client.access_token())
    await until(entered)
    first.cancel()
    gate.set()

    await client.bearer.wait()  # the obtain the cancelled task had started, finished

    assert caches[api_settings.CACHE_ALIAS].get(client.store.lease_key) is None


def test_a_client_survives_its_event_loop_closing_between_calls(
    committed_credential, fake_provider
):
    client = AsyncApiClient(committed_credential)

    first = asyncio.run(client.get("/api/merchant"))
    second = asyncio.run(client.get("/api/merchant"))

    assert (first.status_code, second.status_code) == (200, 200)


async def test_calls_succeed_with_the_token_cache_down(
    committed_credential, fake_provider, settings, apiauth
):
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        },
    }
    apiauth(CACHE_ALIAS="down")
    client = await aget_client("shop")

    responses = await asyncio.gather(*(client.get("/api/merchant") for _ in range(8)))

    assert {r.status_code for r in responses} == {200}
    assert fake_provider.token_requests == 1
