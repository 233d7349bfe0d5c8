"""TLS verification is never switched off by a falsy value (issue 10, item 4).

``requests`` skips certificate checks for any falsy ``verify`` (``0``, ``""``
from an unset CA-bundle variable), not only ``False``; per call as in settings
only ``True`` or the path of an existing CA bundle may pass.
"""

from __future__ import annotations

import pytest

from django_apiauth.client import ApiClient
from django_apiauth.exceptions import ConfigurationError
from django_apiauth.transport.sync import create_session

pytestmark = pytest.mark.django_db

REFUSED = [False, None, 0, 0.0, "", "/nonexistent/ca.pem", []]


@pytest.fixture
def orders_provider(fake_provider):
    """``fake_provider`` serving a bearer-protected ``GET /api/orders``."""
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
    return fake_provider


@pytest.fixture
def ca_bundle(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    return str(bundle)


@pytest.mark.parametrize("verify", REFUSED, ids=repr)
def test_a_per_call_verify_other_than_true_or_a_ca_bundle_is_refused(orders_provider, verify):
    client = ApiClient(orders_provider.create_credential(name="shop"))

    with pytest.raises(ConfigurationError, match="TLS verification cannot be switched off"):
        client.get("/api/orders", verify=verify)

    assert len(orders_provider.mock.calls) == 0  # not even the token request


@pytest.mark.parametrize("verify", REFUSED, ids=repr)
def test_a_session_refuses_the_same_values(orders_provider, verify):
    with pytest.raises(ConfigurationError, match=r"verify=.* is refused"):
        create_session().get(orders_provider.base_url + "/api/orders", verify=verify)

    assert len(orders_provider.mock.calls) == 0


@pytest.mark.parametrize("verify", [0, ""], ids=repr)
def test_a_falsy_session_verify_is_refused_when_sending(orders_provider, monkeypatch, verify):
    # With REQUESTS_CA_BUNDLE set, requests would use it instead of the session's value.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    session = create_session()
    session.verify = verify  # a create_session() override, say

    with pytest.raises(ConfigurationError, match="TLS verification cannot be switched off"):
        session.get(orders_provider.base_url + "/api/orders")

    assert len(orders_provider.mock.calls) == 0


@pytest.mark.parametrize("verify", [0, ""], ids=repr)
def test_a_falsy_verify_setting_is_refused_at_request_time(settings, verify):
    settings.APIAUTH = {**settings.APIAUTH, "VERIFY": verify}

    with pytest.raises(ConfigurationError, match=r"APIAUTH\['VERIFY'\]"):
        create_session()


def test_true_or_an_existing_ca_bundle_per_call_is_used(orders_provider, ca_bundle):
    client = ApiClient(orders_provider.create_credential(name="shop"))

    assert client.get("/api/orders", verify=True).status_code == 200
    assert client.get("/api/orders", verify=ca_bundle).status_code == 200
    assert orders_provider.mock.calls[-1].request.req_kwargs["verify"] == ca_bundle
