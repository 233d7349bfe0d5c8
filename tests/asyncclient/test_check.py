"""``await client.check()``: the sync client's ``CheckResult``; never raises for provider errors."""

from __future__ import annotations

import pytest

from django_apiauth.client import aget_client
from django_apiauth.clients.check import CheckResult

pytestmark = pytest.mark.anyio


async def test_check_fetches_a_fresh_token_and_reports_ok(committed_credential, fake_provider):
    client = await aget_client("shop")
    await client.access_token()

    result = await client.check()

    assert isinstance(result, CheckResult)
    assert (result.ok, result.method, result.status_code) == (True, "token", 200)
    assert result.name == "shop" and result.pk == committed_credential.pk
    assert fake_provider.token_requests == 2  # bypassed the cached token


async def test_check_gets_check_path_when_set(committed_credential, fake_provider, apiauth):
    apiauth(CHECK_PATH="/api/merchant")
    client = await aget_client("shop")

    result = await client.check()

    assert (result.ok, result.method, result.status_code) == (True, "token+GET /api/merchant", 200)


async def test_check_reports_refused_credentials_without_raising(
    committed_credential, fake_provider
):
    fake_provider.api_secret = "rotated-on-the-provider-side"
    client = await aget_client("shop")

    result = await client.check()

    assert (result.ok, result.status_code) == (False, 401)
    assert "invalid_client" in result.detail


async def test_check_reports_a_failing_check_path_without_raising(
    committed_credential, fake_provider, apiauth
):
    apiauth(CHECK_PATH="/api/merchant", MAX_RETRIES=0)
    fake_provider.state.fail_next("api", 1, status=500)
    client = await aget_client("shop")

    result = await client.check()

    assert (result.ok, result.status_code) == (False, 500)


async def test_check_reports_a_bad_check_path_setting_without_raising(
    committed_credential, apiauth
):
    apiauth(CHECK_PATH="https://elsewhere.example/x")
    client = await aget_client("shop")

    result = await client.check()

    assert result.ok is False and "CHECK_PATH" in result.detail
