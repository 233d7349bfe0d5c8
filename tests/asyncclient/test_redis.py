"""Sync and async callers sharing one token through Redis, and the fleet's single flight."""

from __future__ import annotations

import asyncio

import pytest

from django_apiauth.client import ApiClient, aget_client
from django_apiauth.tokens import store as tokens

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


@pytest.fixture
def on_redis(redis_cache_settings, fake_provider, apiauth):
    apiauth(CACHE_ALIAS="default")  # the test kit's private cache, swapped for Redis
    return redis_cache_settings


async def test_an_async_process_adopts_the_token_a_sync_process_put_in_redis(
    on_redis, committed_credential, fake_provider
):
    token = await asyncio.to_thread(ApiClient(committed_credential).access_token)
    tokens.clear_process_memory()  # as another process: only Redis is left

    assert await (await aget_client("shop")).access_token() == token
    assert fake_provider.token_requests == 1


async def test_tasks_of_two_loops_in_two_threads_share_one_fetch_through_redis(
    on_redis, committed_credential, fake_provider
):
    client = await aget_client("shop")

    async def burst():
        return await asyncio.gather(*(client.access_token() for _ in range(16)))

    values = await asyncio.gather(
        asyncio.to_thread(asyncio.run, burst()), asyncio.to_thread(asyncio.run, burst())
    )

    assert len({v for burst_values in values for v in burst_values}) == 1
    assert fake_provider.token_requests == 1
