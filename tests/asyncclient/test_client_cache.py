"""``aget_client`` keeps one client per credential per process, like ``get_client``.

A warm call stays on the event loop (no query, no thread hop); the stamp in
the shared cache is looked at once per ``STAMP_INTERVAL``, so an edit made by
another process (simulated: raw SQL, then ``stamps.bump``) or a
deactivation is seen within about a second.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from django_apiauth import clock as apiauth_clock
from django_apiauth import credential_cache, stamps
from django_apiauth.client import aget_client
from django_apiauth.exceptions import CredentialNotFound
from django_apiauth.models import ApiCredential
from tests.tokens.conftest import FakeClock

pytestmark = pytest.mark.anyio

TABLE = ApiCredential._meta.db_table


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(apiauth_clock, "current", fake)
    return fake


@pytest.fixture
def queries(monkeypatch):
    """Every SQL statement run, in any thread (the async ORM runs its queries in another)."""
    seen = []
    original = CursorWrapper._execute_with_wrappers

    def recording(self, sql, *args, **kwargs):
        seen.append(sql)
        return original(self, sql, *args, **kwargs)

    monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", recording)
    return seen


@pytest.fixture
def thread_hops(monkeypatch):
    """Every hand-over to a thread from an event loop (``sync_to_async``, ``to_thread``)."""
    hops = []
    original = asyncio.BaseEventLoop.run_in_executor

    def recording(self, executor, func, *args):
        hops.append(func)
        return original(self, executor, func, *args)

    monkeypatch.setattr(asyncio.BaseEventLoop, "run_in_executor", recording)
    return hops


@sync_to_async
def write_elsewhere(credential: ApiCredential, **columns: object) -> None:
    """What another process's save looks like from here: the row changes, then its stamp."""
    columns.setdefault("updated_at", timezone.now())
    assignments = ", ".join(f"{name} = %s" for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET {assignments} WHERE id = %s",
            [*columns.values(), credential.pk],
        )
    stamps.bump([credential.pk])


async def test_aget_client_returns_the_same_client_each_time(committed_credential):
    first = await aget_client("shop")

    assert await aget_client("shop") is first


async def test_a_warm_aget_client_runs_no_query(committed_credential, queries):
    await aget_client("shop")
    queries.clear()

    await aget_client("shop")

    assert queries == []


async def test_a_warm_aget_client_makes_no_thread_hop(committed_credential, thread_hops):
    await aget_client("shop")
    thread_hops.clear()

    await aget_client("shop")

    assert thread_hops == []


async def test_an_edit_elsewhere_is_seen_after_the_stamp_interval(committed_credential, clock):
    first = await aget_client("shop")
    await write_elsewhere(committed_credential, merchant_uid="edited-elsewhere")

    assert await aget_client("shop") is first  # within the interval: not looked at yet
    clock.advance(credential_cache.STAMP_INTERVAL)
    client = await aget_client("shop")

    assert client is not first
    assert client.credential.merchant_uid == "edited-elsewhere"


async def test_a_deactivation_elsewhere_is_seen_after_the_stamp_interval(
    committed_credential, clock
):
    await aget_client("shop")
    await write_elsewhere(committed_credential, is_active=False)
    clock.advance(credential_cache.STAMP_INTERVAL)

    with pytest.raises(CredentialNotFound, match="'shop'"):
        await aget_client("shop")


async def test_the_stamp_is_read_once_per_interval_by_concurrent_tasks(
    committed_credential, clock, monkeypatch
):
    reads = []
    original = stamps.read_stamp
    monkeypatch.setattr(stamps, "read_stamp", lambda pk: reads.append(pk) or original(pk))
    first = await aget_client("shop")
    reads.clear()
    clock.advance(credential_cache.STAMP_INTERVAL)

    clients = await asyncio.gather(*(aget_client("shop") for _ in range(20)))

    assert reads == [committed_credential.pk]
    assert all(client is first for client in clients)


async def test_a_save_in_this_process_is_seen_at_once(committed_credential):
    first = await aget_client("shop")
    committed_credential.merchant_uid = "edited-here"
    await committed_credential.asave()

    client = await aget_client("shop")

    assert client is not first
    assert client.credential.merchant_uid == "edited-here"


async def test_a_settings_change_drops_the_cached_async_clients(committed_credential, apiauth):
    first = await aget_client("shop")

    apiauth(MAX_RETRIES=0)

    assert await aget_client("shop") is not first
