"""No secret, token or Authorization header in any log line, exception, repr or error report."""

from __future__ import annotations

import logging

import httpx
import pytest

from django_apiauth.client import aget_client
from tests.security.reports import basic_forms, django_reports, frame_locals, leaks

pytestmark = pytest.mark.anyio


def secrets_of(provider):
    account = provider.account
    return [
        account.api_secret,
        account.dashboard_password,
        *basic_forms(account.api_key, account.api_secret),
        *basic_forms(account.dashboard_username, account.dashboard_password),
        *provider.issued_tokens,
    ]


async def test_calls_log_no_secret(committed_credential, fake_provider, caplog):
    caplog.set_level(logging.DEBUG)
    client = await aget_client("shop")
    await client.get("/api/merchant")
    fake_provider.revoke_tokens()
    await client.get("/api/merchant")  # the 401 replay path
    await client.get("/api/dashboard/merchant", auth="basic")

    assert leaks(secrets_of(fake_provider), [caplog.text]) == []


@pytest.mark.parametrize("auth", ["token", "basic"])
async def test_a_failing_call_reports_no_secret(committed_credential, fake_provider, auth, apiauth):
    apiauth(MAX_RETRIES=0)
    client = await aget_client("shop")
    await client.access_token()
    fake_provider.state.fail_next("api", 1, exception=ConnectionError("refused"))
    path = "/api/dashboard/merchant" if auth == "basic" else "/api/merchant"

    try:
        await client.get(path, auth=auth)
    except httpx.ConnectError as err:
        failure = err
    else:
        pytest.fail("the call did not fail")

    shown = [*django_reports(failure), *frame_locals(failure)]
    assert leaks(secrets_of(fake_provider), shown) == []
    assert str(failure) == f"GET provider.test{path} failed (ConnectError)"


async def test_a_token_failure_reports_no_secret(committed_credential, fake_provider, apiauth):
    apiauth(MAX_RETRIES=0)
    fake_provider.fail_token_requests(1, status=500)
    client = await aget_client("shop")

    try:
        await client.get("/api/merchant")
    except Exception as err:
        failure = err
    else:
        pytest.fail("the call did not fail")

    shown = [*django_reports(failure), *frame_locals(failure)]
    assert leaks(secrets_of(fake_provider), shown) == []


async def test_reprs_show_no_secret(committed_credential, fake_provider):
    client = await aget_client("shop")
    response = await client.get("/api/merchant")

    shown = [repr(client), repr(client.bearer), repr(client.store.cached()), repr(response)]
    shown += [repr(response.request.headers)]

    assert leaks(secrets_of(fake_provider), shown) == []
