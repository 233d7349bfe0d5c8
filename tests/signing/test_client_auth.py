"""The client side of Basic and signature auth (``auth="basic"``, ``client.sign``).

``ApiClient`` is written in client.py/auth.py (the token issue); these tests hold
it to DESIGN.md's contract and to the seed page's Basic vector, with ``responses``
standing in for the provider.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses

from django_apiauth.client import ApiClient, get_client
from django_apiauth.exceptions import ConfigurationError
from tests.vectors import BASIC_HEADER, BASIC_PASSWORD, BASIC_USERNAME, SIGNATURE_SECRET

pytestmark = pytest.mark.django_db

BASE = "https://provider.example"


@pytest.fixture
def provider_mock(settings):
    """A bare ``responses`` mock for the provider at ``BASE`` (the tests register each answer)."""
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": ["provider.example"]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def dashboard_credential(make_credential):
    return make_credential(
        "shop", dashboard_username=BASIC_USERNAME, dashboard_password=BASIC_PASSWORD
    )


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_basic_auth_sends_the_seed_vector(provider_mock, dashboard_credential, method):
    provider_mock.add(method.upper(), f"{BASE}/api/dashboard_endpoint", json={"ok": True})

    response = getattr(get_client("shop"), method)("/api/dashboard_endpoint", auth="basic")

    assert response.status_code == 200
    assert provider_mock.calls[0].request.headers["Authorization"] == BASIC_HEADER


def test_basic_auth_fetches_no_access_token(provider_mock, dashboard_credential):
    provider_mock.get(f"{BASE}/api/dashboard_endpoint", json={})

    get_client("shop").get("/api/dashboard_endpoint", auth="basic")

    assert [call.request.url for call in provider_mock.calls] == [f"{BASE}/api/dashboard_endpoint"]


@pytest.mark.parametrize(
    "login",
    [{}, {"dashboard_username": BASIC_USERNAME}, {"dashboard_password": BASIC_PASSWORD}],
    ids=["nothing", "no-password", "no-username"],
)
def test_basic_auth_without_a_dashboard_login_names_the_credential_and_sends_nothing(
    provider_mock, make_credential, login
):
    make_credential("shop-without-login", **login)

    with pytest.raises(ConfigurationError, match="shop-without-login"):
        get_client("shop-without-login").get("/api/dashboard_endpoint", auth="basic")

    assert len(provider_mock.calls) == 0


def test_basic_auth_logs_neither_the_password_nor_the_header(
    provider_mock, dashboard_credential, caplog
):
    caplog.set_level(logging.DEBUG)  # urllib3 included
    provider_mock.get(f"{BASE}/api/dashboard_endpoint", status=401)

    get_client("shop").get("/api/dashboard_endpoint", auth="basic")

    for value in (BASIC_PASSWORD, BASIC_HEADER, BASIC_HEADER.split()[1]):
        assert value not in caplog.text


def test_client_sign_round_trips_through_pyjwt(make_credential):
    client = ApiClient(make_credential("shop"))
    payload = {"data": {"amountCents": 1500, "reference": "order-42"}, "purchase_link_settings": {}}

    token = client.sign(payload, expires_in=600)

    decoded = jwt.decode(token, SIGNATURE_SECRET, algorithms=["HS256"])
    assert decoded["data"] == payload["data"]
    assert decoded["purchase_link_settings"] == {}
    assert decoded["exp"] - decoded["iat"] == 600


def test_client_sign_without_a_signature_secret_names_the_credential(make_credential):
    client = ApiClient(make_credential("shop-unsigned", signature_secret=""))

    with pytest.raises(ConfigurationError, match="shop-unsigned"):
        client.sign({"data": {}})


def test_a_signature_travels_in_the_query_string(provider_mock, make_credential):
    provider_mock.post(f"{BASE}/api/purchase_link/", json={"url": "https://pay.example/xyz"})
    client = get_client(make_credential("shop").name)

    client.post(
        "/api/purchase_link/", params={"signature": client.sign({"data": {"a": 1}})}, auth="none"
    )

    (token,) = parse_qs(urlsplit(provider_mock.calls[0].request.url).query)["signature"]
    assert jwt.decode(token, SIGNATURE_SECRET, algorithms=["HS256"])["data"] == {"a": 1}
