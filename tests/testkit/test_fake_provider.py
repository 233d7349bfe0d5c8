"""``django_apiauth.testing``: the fake provider users test their own sites with.

The first test is the README example, as a user would write it; the fixture is
imported in ``tests/tokens/conftest.py``, as the README says.
"""

from __future__ import annotations

import pytest
import requests

from django_apiauth.client import get_client
from django_apiauth.exceptions import InvalidCredentialsError, TokenEndpointError
from django_apiauth.testing import FakeProvider

pytestmark = pytest.mark.django_db


def sync_orders():
    """Stands for the user's own code."""
    return get_client("shop").get("/api/orders").json()["orders"]


def test_readme_example(fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
    fake_provider.create_credential(name="shop")
    assert sync_orders() == []
    assert sync_orders() == []
    assert fake_provider.token_requests == 1
    assert fake_provider.bearer_calls == 2


def test_the_fixture_blocks_real_network_calls(fake_provider):
    with pytest.raises(requests.ConnectionError):
        requests.get("https://example.com/")


def test_failure_injection_on_the_token_endpoint(fake_provider, settings):
    settings.APIAUTH = {**settings.APIAUTH, "MAX_RETRIES": 0}
    fake_provider.create_credential(name="shop")
    fake_provider.fail_token_requests(status=503)
    with pytest.raises(TokenEndpointError):
        get_client("shop").access_token()
    assert get_client("shop").access_token()


def test_a_credential_with_other_secrets_is_refused(fake_provider):
    fake_provider.create_credential(name="shop", api_secret="not-the-fake-one")
    with pytest.raises(InvalidCredentialsError):
        get_client("shop").access_token()


def test_revoked_tokens_are_refused_then_replaced(fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": [1]})
    fake_provider.create_credential(name="shop")
    sync_orders()
    fake_provider.revoke_tokens()
    assert sync_orders() == [1]
    assert fake_provider.bearer_rejected == 1
    assert fake_provider.token_requests == 2


def test_basic_endpoints_check_the_dashboard_login(fake_provider):
    fake_provider.add_basic_endpoint("GET", "/api/dashboard", json={"ok": True})
    fake_provider.create_credential(name="shop")
    assert get_client("shop").get("/api/dashboard", auth="basic").status_code == 200
    assert fake_provider.basic_calls == 1


def test_the_provider_works_as_a_context_manager_too():
    with FakeProvider("https://another.test", expires_in=60) as provider:
        provider.create_credential(name="shop")
        assert get_client("shop").store.get().lifetime == 60
    assert repr(provider).startswith("<FakeProvider https://another.test")


def test_each_fake_provider_has_its_own_secrets():
    assert FakeProvider().api_secret != FakeProvider().api_secret


def test_issued_tokens_lists_every_token_revoked_or_not(fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
    fake_provider.create_credential(name="shop")
    first = get_client("shop").access_token()
    fake_provider.revoke_tokens()
    assert get_client("shop").get("/api/orders").status_code == 200  # healed: a new token
    second = get_client("shop").access_token()
    assert fake_provider.issued_tokens == (first, second)
    assert first not in repr(fake_provider)
