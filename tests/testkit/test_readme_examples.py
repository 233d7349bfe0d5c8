"""The README's example-project snippets, copied here as they are written there."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.live


@pytest.fixture
def loopback_allowed(settings):
    settings.APIAUTH = {**settings.APIAUTH, "ALLOW_INSECURE_LOOPBACK": True}


def test_sandbox_in_your_own_tests(db, loopback_allowed):
    # --- README: "The sandbox provider in your own tests" ---
    from django_apiauth.client import get_client
    from django_apiauth.models import ApiCredential
    from django_apiauth.testing import start_sandbox

    with start_sandbox() as sandbox:  # http://127.0.0.1:<free port>, stopped on exit
        account = sandbox.account  # api_key, api_secret, dashboard_*, signature_secret
        ApiCredential.objects.create(
            name="shop",
            base_url=sandbox.url,
            api_key=account.api_key,
            api_secret=account.api_secret,
        )
        client = get_client("shop")
        for _ in range(3):
            client.get("/api/merchant").raise_for_status()
        assert sandbox.state.snapshot()["token_requests"] == 1  # one token, three calls

        sandbox.state.revoke_tokens()  # every issued token now gets a 401 ...
        assert client.get("/api/merchant").status_code == 200  # ... healed by one refetch
        sandbox.state.fail_next("api", 1, status=503, retry_after=0)  # one outage ...
        assert client.get("/api/merchant").status_code == 200  # ... retried transparently
    # --- end ---


def test_sandbox_provider_fixture(db, loopback_allowed, sandbox_provider):
    # --- README: the `sandbox_provider` fixture ---
    from django_apiauth.client import ApiClient
    from django_apiauth.models import ApiCredential

    account = sandbox_provider.account
    credential = ApiCredential.objects.create(
        name="shop",
        base_url=sandbox_provider.url,
        api_key=account.api_key,
        api_secret=account.api_secret,
    )
    result = ApiClient(credential).check()
    assert result.ok, result.detail
    # --- end ---
