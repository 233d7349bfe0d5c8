"""A revoked token heals for every concurrent caller (issue 18, item 1).

Rejections are judged per token: a caller refused with a token that is no
longer current replays with the current one at once; a caller refused with
the current token has it replaced (one token request fleet-wide) and every
caller waiting replays with the new one. Only a *replacement* refused on its
first use backs off, so an endpoint that refuses every token still costs only
a handful of token requests.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from django_apiauth.client import ApiClient, AsyncApiClient
from django_apiauth.tokens import memory
from django_apiauth.tokens import store as tokens

pytestmark = pytest.mark.django_db(transaction=True)


def call_together(clients, per_client):
    """Each client called by ``per_client`` threads released at the same instant."""
    start = threading.Barrier(len(clients) * per_client)
    statuses = []

    def call(client):
        start.wait()
        statuses.append(client.get("/api/merchant").status_code)

    threads = [
        threading.Thread(target=call, args=(client,))
        for client in clients
        for _ in range(per_client)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_eight_threads_on_one_client_all_heal_from_a_revocation(fake_provider, credential):
    client = ApiClient(credential)
    assert client.get("/api/merchant").status_code == 200
    fake_provider.revoke_tokens()
    assert call_together([client], 8) == [200] * 8
    assert fake_provider.token_requests == 2


def test_thirty_two_threads_over_four_clients_need_one_replacement(fake_provider, credential):
    clients = [ApiClient(credential) for _ in range(4)]
    assert clients[0].get("/api/merchant").status_code == 200
    fake_provider.revoke_tokens()
    assert call_together(clients, 8) == [200] * 32
    assert fake_provider.token_requests == 2  # the first token and one replacement


def test_a_token_revoked_before_any_use_is_replaced_too(fake_provider, credential):
    clients = [ApiClient(credential) for _ in range(4)]
    clients[0].access_token()
    fake_provider.revoke_tokens()
    assert call_together(clients, 8) == [200] * 32
    assert fake_provider.token_requests == 2


def test_three_revocations_a_moment_apart_all_heal(fake_provider, credential):
    client = ApiClient(credential)
    statuses = []
    for _ in range(3):
        client.access_token()
        fake_provider.revoke_tokens()
        statuses.append(client.get("/api/merchant").status_code)
        time.sleep(0.05)
    assert statuses == [200, 200, 200]
    assert fake_provider.token_requests == 4


def test_another_process_heals_from_a_revocation_the_first_one_healed(fake_provider, credential):
    client = ApiClient(credential)
    assert client.get("/api/merchant").status_code == 200
    fake_provider.revoke_tokens()
    assert client.get("/api/merchant").status_code == 200  # replaced here
    tokens.clear_process_memory()  # another process, with the new token in the shared cache
    fake_provider.revoke_tokens()
    assert ApiClient(credential).get("/api/merchant").status_code == 200
    assert fake_provider.token_requests == 3


def test_an_endpoint_refusing_every_token_costs_a_handful_of_token_requests(
    fake_provider, credential
):
    fake_provider.add_bearer_endpoint("GET", "/api/locked", status=401)
    clients = [ApiClient(credential) for _ in range(4)]
    statuses = [clients[i % 4].get("/api/locked").status_code for i in range(20)]
    assert statuses == [401] * 20
    assert fake_provider.token_requests <= 3


def test_the_async_client_heals_every_concurrent_caller(fake_provider, credential):
    async def scenario():
        clients = [AsyncApiClient(credential) for _ in range(4)]
        assert (await clients[0].get("/api/merchant")).status_code == 200
        fake_provider.revoke_tokens()
        answers = await asyncio.gather(*(c.get("/api/merchant") for c in clients for _ in range(8)))
        for client in clients:
            await client.aclose()
        return [answer.status_code for answer in answers]

    assert asyncio.run(scenario()) == [200] * 32
    assert fake_provider.token_requests == 2


def test_the_async_client_heals_three_revocations(fake_provider, credential):
    async def scenario():
        async with AsyncApiClient(credential) as client:
            statuses = []
            for _ in range(3):
                await client.access_token()
                fake_provider.revoke_tokens()
                statuses.append((await client.get("/api/merchant")).status_code)
            return statuses

    assert asyncio.run(scenario()) == [200, 200, 200]
    assert fake_provider.token_requests == 4


def test_the_async_client_backs_off_an_endpoint_refusing_every_token(fake_provider, credential):
    fake_provider.add_bearer_endpoint("GET", "/api/locked", status=401)

    async def scenario():
        async with AsyncApiClient(credential) as client:
            return [(await client.get("/api/locked")).status_code for _ in range(20)]

    assert asyncio.run(scenario()) == [401] * 20
    assert fake_provider.token_requests <= 3


def test_a_stale_replay_prefers_the_token_another_process_shared(
    fake_provider, credential, monkeypatch
):
    """Found by the token model: memory holds T2, another process replaced it by T3."""
    process_a = ApiClient(credential)
    t1 = process_a.access_token()
    fake_provider.revoke_tokens()
    assert process_a.get("/api/merchant").status_code == 200  # A now holds T2
    monkeypatch.setattr(memory, "_slots", {})  # B: a process of its own, A's slot kept
    process_b = ApiClient(credential)
    process_b.access_token()
    fake_provider.revoke_tokens()
    assert process_b.get("/api/merchant").status_code == 200  # B shared T3
    t3 = process_b.access_token()

    replacement = process_a.store.rejected(t1)  # a caller of A still held T1

    assert replacement is not None and replacement.value == t3


def test_on_a_tie_the_replay_takes_the_fleets_token(fake_provider, credential, monkeypatch):
    """Found by the long model run: two tokens fetched in the same clock tick."""
    from django_apiauth import clock as apiauth_clock
    from tests.tokens.conftest import FakeClock

    monkeypatch.setattr(apiauth_clock, "current", FakeClock())  # time stands still
    process_a = ApiClient(credential)
    t1 = process_a.access_token()
    fake_provider.revoke_tokens()
    assert process_a.get("/api/merchant").status_code == 200  # A holds T2
    monkeypatch.setattr(memory, "_slots", {})  # B: a process of its own
    process_b = ApiClient(credential)
    fake_provider.revoke_tokens()
    assert process_b.get("/api/merchant").status_code == 200  # B shared T3, same instant
    t3 = process_b.access_token()

    assert process_a.store.rejected(t1).value == t3
