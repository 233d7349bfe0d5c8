"""``aget_client`` and the surface of ``AsyncApiClient``: calls, auth modes, tokens, signing."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import jwt
import pytest

from django_apiauth.client import AsyncApiClient, aget_client
from django_apiauth.exceptions import ConfigurationError, CredentialNotFound
from django_apiauth.models import ApiCredential

pytestmark = pytest.mark.anyio


async def test_aget_client_returns_the_async_client_of_the_active_credential(committed_credential):
    client = await aget_client("shop")

    assert isinstance(client, AsyncApiClient)
    assert client.credential.pk == committed_credential.pk


async def test_aget_client_refuses_an_unknown_name(committed_credential):
    with pytest.raises(CredentialNotFound, match="'nope'"):
        await aget_client("nope")


async def test_aget_client_refuses_an_inactive_credential(committed_credential):
    await ApiCredential.objects.filter(pk=committed_credential.pk).aupdate(is_active=False)

    with pytest.raises(CredentialNotFound, match="'shop'"):
        await aget_client("shop")


def test_the_client_module_imports_without_httpx_and_names_the_extra_on_use():
    code = (
        "import sys; sys.modules['httpx'] = None\n"
        "import django_apiauth.client as c\n"
        "try:\n    c.aget_client\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert 'pip install "django-apiauth[async]"' in out.stdout


async def test_a_bearer_call_sends_the_shared_token(committed_credential, fake_provider):
    client = await aget_client("shop")

    response = await client.get("/api/merchant")

    assert response.status_code == 200
    assert response.json()["merchant_uid"] == fake_provider.account.merchant_uid
    assert fake_provider.token_requests == 1


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
async def test_each_shortcut_sends_its_method(committed_credential, fake_provider, method):
    client = await aget_client("shop")

    response = await getattr(client, method)("/api/echo", params={"q": "1"})

    assert response.status_code == 200
    assert response.json()["method"] == method.upper()


async def test_a_json_body_reaches_the_provider(committed_credential):
    client = await aget_client("shop")

    response = await client.post("/api/echo", json={"amount": 1200})

    assert json.loads(response.json()["body"]) == {"amount": 1200}


async def test_basic_auth_sends_the_dashboard_login(committed_credential, fake_provider):
    client = await aget_client("shop")

    response = await client.get("/api/dashboard/merchant", auth="basic")

    assert response.status_code == 200
    assert fake_provider.token_requests == 0


async def test_basic_auth_encodes_a_non_ascii_login_as_utf8(fake_provider, transactional_db):
    fake_provider.dashboard_password = "pässwörd-€-ключ"
    await ApiCredential.objects.acreate(name="shop", **fake_provider.credential_fields())
    client = await aget_client("shop")

    response = await client.get("/api/dashboard/merchant", auth="basic")

    assert response.status_code == 200


async def test_basic_auth_without_a_dashboard_login_names_the_missing_field(fake_provider, db):
    fields = {**fake_provider.credential_fields(), "dashboard_password": ""}
    client = AsyncApiClient(ApiCredential(name="shop", **fields))

    with pytest.raises(ConfigurationError, match="dashboard_password is empty"):
        await client.get("/api/dashboard/merchant", auth="basic")


async def test_auth_none_sends_no_authorization_header(committed_credential, fake_provider):
    client = await aget_client("shop")

    response = await client.get("/api/merchant", auth="none")

    assert response.status_code == 401
    assert "Authorization" not in response.request.headers
    assert fake_provider.token_requests == 0


async def test_an_unknown_auth_mode_is_refused_without_echoing_a_tuple(committed_credential):
    client = await aget_client("shop")

    with pytest.raises(ValueError, match="token, basic, none") as caught:
        await client.get("/api/merchant", auth=("user", "hunter2"))

    assert "hunter2" not in str(caught.value)


async def test_a_url_instead_of_a_path_is_refused(committed_credential):
    client = await aget_client("shop")

    with pytest.raises(ConfigurationError, match="pass a path, not a URL"):
        await client.get("https://elsewhere.example/api/merchant")


async def test_access_token_is_the_token_the_calls_send(committed_credential, fake_provider):
    client = await aget_client("shop")

    token = await client.access_token()
    response = await client.get("/api/merchant")

    assert response.request.headers["Authorization"] == f"Bearer {token}"
    assert fake_provider.token_requests == 1


async def test_invalidate_token_makes_the_next_call_fetch_a_new_one(
    committed_credential, fake_provider
):
    client = await aget_client("shop")
    first = await client.access_token()

    await client.invalidate_token()

    assert await client.access_token() != first
    assert fake_provider.token_requests == 2


async def test_sign_makes_an_hs256_jwt_with_the_signature_secret(fake_provider, transactional_db):
    secret = "s3cret-for-signing-parameters-0123456789"
    fields = {**fake_provider.credential_fields(), "signature_secret": secret}
    client = AsyncApiClient(await ApiCredential.objects.acreate(name="shop", **fields))

    token = client.sign({"data": {"amount": 1}})

    decoded = jwt.decode(token, secret, algorithms=["HS256"])
    assert decoded["data"] == {"amount": 1}


async def test_the_context_manager_closes_an_own_http_client_not_the_shared_one(
    committed_credential, monkeypatch
):
    async with await aget_client("shop") as client:
        shared = client.http
        await client.get("/api/merchant")
    assert not shared.is_closed  # the pool of the provider's host serves other credentials

    own = httpx.AsyncClient()
    monkeypatch.setattr(client, "create_http_client", lambda: own)
    async with client:
        assert client.http is own
    assert own.is_closed


async def test_repr_names_the_credential_only(committed_credential):
    client = await aget_client("shop")

    assert repr(client) == "<AsyncApiClient credential='shop'>"


async def test_a_response_is_an_httpx_response(committed_credential):
    client = await aget_client("shop")

    assert isinstance(await client.get("/api/merchant"), httpx.Response)


async def test_clients_of_one_host_share_one_http_client_per_loop(fake_provider, transactional_db):
    fields = fake_provider.credential_fields()
    first = AsyncApiClient(await ApiCredential.objects.acreate(name="first", **fields))
    second = AsyncApiClient(await ApiCredential.objects.acreate(name="second", **fields))
    assert first.http is second.http  # one connection pool for the host, not one per credential
