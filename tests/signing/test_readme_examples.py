"""The README's signing and notification examples, copied verbatim and run.

The notification views of the README live in ``example/`` and are served by
``test_notification_views.py``; ``tests/test_readme.py`` fails when the README
and these copies drift apart.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses

from django_apiauth.signing import notification_digest
from tests.vectors import (
    BASIC_HEADER,
    BASIC_PASSWORD,
    BASIC_USERNAME,
    HASH_FIELDS,
    SIGNATURE_SECRET,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make_credential):
    return make_credential(
        "shop",
        base_url="https://staging.back.ecard.pledg.co",
        dashboard_username=BASIC_USERNAME,
        dashboard_password=BASIC_PASSWORD,
    )


@pytest.fixture
def provider():
    with responses.RequestsMock() as mock:
        yield mock


def decoded(token: str) -> dict:
    return jwt.decode(token, SIGNATURE_SECRET, algorithms=["HS256"])


def test_readme_basic_example(shop, provider):
    provider.get("https://staging.back.ecard.pledg.co/api/some_dashboard_endpoint", json={})

    from django_apiauth.client import get_client

    client = get_client("shop")
    response = client.get("/api/some_dashboard_endpoint", auth="basic")

    assert response.status_code == 200
    assert provider.calls[0].request.headers["Authorization"] == BASIC_HEADER


def test_readme_client_signature_example(shop, provider):
    provider.post("https://staging.back.ecard.pledg.co/api/purchase_link/", json={})

    from django_apiauth.client import get_client

    client = get_client("shop")
    payload = {
        "data": {
            "merchantUid": "mer_8ec99f9a",
            "amountCents": 1500,
            "email": "buyer@example.com",
            "reference": "order-42",
        },
        "purchase_link_settings": {"expiration_days": 3},
    }
    token = client.sign(payload, expires_in=600)
    response = client.post("/api/purchase_link/", params={"signature": token}, auth="none")

    assert response.status_code == 200
    request = provider.calls[0].request
    assert "Authorization" not in request.headers
    (sent,) = parse_qs(urlsplit(request.url).query)["signature"]
    claims = decoded(sent)
    assert claims["data"] == payload["data"]
    assert claims["purchase_link_settings"] == {"expiration_days": 3}
    assert claims["exp"] - claims["iat"] == 600


def test_readme_signing_functions_example(shop):
    from django_apiauth.models import ApiCredential
    from django_apiauth.signing import sign, signed_query, signed_url

    secret = ApiCredential.objects.get(name="shop").signature_secret
    payload = {"data": {"reference": "order-42", "amountCents": 1500}}

    token = sign(payload, secret, expires_in=600)
    params = signed_query(payload, secret, expires_in=600)  # {"signature": "<jwt>"}
    endpoint = "https://staging.back.ecard.pledg.co/api/purchase_link/?lang=fr"
    url = signed_url(endpoint, payload, secret)
    # -> ".../api/purchase_link/?lang=fr&signature=<jwt>" (other parameters kept as they were)

    assert decoded(token)["data"] == payload["data"]
    assert decoded(params["signature"])["data"] == payload["data"]
    assert url.startswith(f"{endpoint}&signature=")
    assert decoded(parse_qs(urlsplit(url).query)["signature"][0])["data"] == payload["data"]


def test_readme_verify_by_hand_example():
    from django_apiauth.exceptions import SignatureError
    from django_apiauth.signing import decode_notification, verify_notification

    def handle(body: dict, secret: str) -> dict | None:
        if set(body) == {"signature"}:  # transfer notification: a JWT
            try:
                return decode_notification(body["signature"], secret)
            except SignatureError:
                return None
        return body if verify_notification(body, secret) else None

    payment = {**HASH_FIELDS, "signature": notification_digest(HASH_FIELDS, SIGNATURE_SECRET)}
    transfer = {"signature": jwt.encode({"reference": "r"}, SIGNATURE_SECRET, algorithm="HS256")}
    assert handle(payment, SIGNATURE_SECRET) == payment
    assert handle({**payment, "status": "failed"}, SIGNATURE_SECRET) is None
    assert handle(transfer, SIGNATURE_SECRET) == {"reference": "r"}
    assert handle(transfer, "another-secret-0123456789-abcdefghijklm") is None
