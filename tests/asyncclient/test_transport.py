"""The async client's transport policy, as the sync client's: HTTPS on every hop, timeouts
always, TLS never off, retries with backoff for idempotent calls, the User-Agent, redirects."""

from __future__ import annotations

import ssl

import certifi
import httpx
import pytest
import requests

from django_apiauth.client import aget_client
from django_apiauth.clients.asynchronous import AsyncApiClient
from django_apiauth.exceptions import ConfigurationError, InsecureTransportError
from django_apiauth.models import ApiCredential
from django_apiauth.testing.httpx_adapter import route
from django_apiauth.testing.isolation import allowing
from django_apiauth.transport import asynchronous as async_transport
from django_apiauth.transport.sync import USER_AGENT

pytestmark = pytest.mark.anyio

OTHER = "https://other.test"


@pytest.fixture
def other_origin():
    """``https://other.test`` answering with ``answer(request)``; records what it got."""
    seen: list[httpx.Request] = []
    reply = {"answer": lambda request: httpx.Response(200, json={"ok": True})}

    def handler(request):
        seen.append(request)
        return reply["answer"](request)

    remove = route(OTHER, httpx.MockTransport(handler))
    with allowing(OTHER):
        yield seen, reply
    remove()


@pytest.fixture
def other_client(fake_provider, other_origin, transactional_db):
    """A client of a credential whose endpoint is ``https://other.test``."""
    fields = {**fake_provider.credential_fields(), "base_url": OTHER}
    return AsyncApiClient(ApiCredential(pk=1, name="other", **fields))


def record_pauses(client):
    pauses: list[float] = []

    async def pause(seconds):
        pauses.append(seconds)

    client.http._transport.sleep = pause
    return pauses


# -- what every request carries ---------------------------------------------------


async def test_calls_send_the_sync_clients_user_agent(committed_credential, fake_provider):
    client = await aget_client("shop")

    await client.get("/api/merchant")

    assert {r.user_agent for r in fake_provider.state.requests} == {USER_AGENT}


async def test_a_call_asking_for_no_timeout_gets_the_configured_one(
    other_client, other_origin, apiauth
):
    apiauth(TIMEOUT=(1.5, 7))

    await other_client.get("/api/merchant", auth="none", timeout=None)

    timeouts = other_origin[0][0].extensions["timeout"]
    assert timeouts == {"connect": 1.5, "read": 7, "write": 7, "pool": 7}


async def test_a_provider_hanging_past_the_timeout_ends_in_a_timeout_error(
    committed_credential, fake_provider, apiauth
):
    apiauth(TIMEOUT=0.05, MAX_RETRIES=0)
    client = await aget_client("shop")
    await client.access_token()
    fake_provider.state.set_delay(0.5, "api")

    with pytest.raises(httpx.ReadTimeout):
        await client.get("/api/merchant")


async def test_tls_verification_cannot_be_switched_off(committed_credential, apiauth):
    apiauth(VERIFY=False)
    client = await aget_client("shop")

    with pytest.raises(ConfigurationError, match="VERIFY"):
        await client.get("/api/merchant")


def test_a_ca_bundle_path_becomes_the_tls_context(settings):
    settings.APIAUTH = {**settings.APIAUTH, "VERIFY": certifi.where()}

    verify = async_transport.tls_verify()

    assert isinstance(verify, ssl.SSLContext)
    assert verify.verify_mode == ssl.CERT_REQUIRED


def test_the_environment_proxy_is_used_unless_no_proxy_names_the_host(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "bypass.example")

    assert async_transport.environment_proxy("https://api.example") == "http://proxy.internal:3128"
    assert async_transport.environment_proxy("https://bypass.example") is None


# -- the HTTPS policy and redirects -------------------------------------------------


async def test_a_plain_http_endpoint_is_refused_before_sending(fake_provider, transactional_db):
    fields = {**fake_provider.credential_fields(), "base_url": "http://provider.example"}
    client = AsyncApiClient(ApiCredential(pk=2, name="plain", **fields))

    with (
        allowing("provider.example:80"),
        pytest.raises(InsecureTransportError, match="plain http://"),
    ):
        await client.get("/api/merchant", auth="none")


async def test_an_authenticated_call_does_not_follow_a_redirect(other_client, other_origin):
    seen, reply = other_origin
    reply["answer"] = lambda request: httpx.Response(302, headers={"Location": "/moved"})

    response = await other_client.get("/api/merchant", auth="basic")

    assert response.status_code == 302
    assert len(seen) == 1


async def test_a_redirect_hop_to_plain_http_is_refused(other_client, other_origin):
    seen, reply = other_origin
    reply["answer"] = lambda request: httpx.Response(
        302, headers={"Location": "http://other.test/moved"}
    )

    with pytest.raises(InsecureTransportError):
        await other_client.get("/api/merchant", auth="basic", follow_redirects=True)
    assert len(seen) == 1


async def test_a_followed_redirect_to_another_origin_carries_no_token(
    committed_credential, fake_provider, other_origin
):
    seen, reply = other_origin
    fake_provider.state.fail_next("api", 1, status=302, headers={"Location": f"{OTHER}/elsewhere"})
    reply["answer"] = lambda request: httpx.Response(401)
    client = await aget_client("shop")

    response = await client.get("/api/merchant", follow_redirects=True)

    assert response.status_code == 401  # not replayed: that would hand over a token
    assert "Authorization" not in seen[0].headers
    assert fake_provider.token_requests == 1


# -- retries ----------------------------------------------------------------------


async def test_an_idempotent_call_is_retried_after_a_503(committed_credential, fake_provider):
    fake_provider.state.fail_next("api", 1, status=503)
    client = await aget_client("shop")

    response = await client.get("/api/merchant")

    assert response.status_code == 200
    assert fake_provider.state.snapshot()["injected_failures"] == 1


async def test_a_post_is_not_retried_after_a_503(committed_credential, fake_provider):
    fake_provider.state.fail_next("api", 1, status=503)
    client = await aget_client("shop")

    response = await client.post("/api/echo", json={})

    assert response.status_code == 503


async def test_retries_stop_after_max_retries(committed_credential, fake_provider, apiauth):
    apiauth(MAX_RETRIES=2)
    fake_provider.state.fail_next("api", 5, status=502)
    client = await aget_client("shop")
    record_pauses(client)

    response = await client.get("/api/merchant")

    assert response.status_code == 502
    assert fake_provider.state.snapshot()["injected_failures"] == 3


async def test_retries_back_off_exponentially_with_jitter(
    committed_credential, fake_provider, apiauth
):
    apiauth(MAX_RETRIES=4)
    fake_provider.state.fail_next("api", 4, status=500)
    client = await aget_client("shop")
    pauses = record_pauses(client)

    await client.get("/api/merchant")

    assert pauses[0] == 0  # urllib3's rule: the first retry goes at once
    assert 0.4 <= pauses[1] <= 0.6 and 0.8 <= pauses[2] <= 1.0 and 1.6 <= pauses[3] <= 1.8


async def test_a_short_retry_after_is_waited_for(committed_credential, fake_provider):
    fake_provider.state.fail_next("api", 1, status=429, retry_after=1)
    client = await aget_client("shop")
    pauses = record_pauses(client)

    response = await client.get("/api/merchant")

    assert response.status_code == 200
    assert pauses == [1]


async def test_a_long_retry_after_is_handed_back_to_the_caller(committed_credential, fake_provider):
    fake_provider.state.fail_next("api", 1, status=503, retry_after=120)
    client = await aget_client("shop")

    response = await client.get("/api/merchant")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "120"


async def test_a_connection_error_is_retried_even_for_a_post(committed_credential, fake_provider):
    fake_provider.state.fail_next("api", 1, exception=requests.ConnectionError())
    client = await aget_client("shop")

    response = await client.post("/api/echo", json={})

    assert response.status_code == 200


async def test_a_read_timeout_on_a_post_is_not_retried(committed_credential, fake_provider):
    fake_provider.state.fail_next("api", 1, exception=requests.ReadTimeout())
    client = await aget_client("shop")

    with pytest.raises(httpx.ReadTimeout):
        await client.post("/api/echo", json={})
