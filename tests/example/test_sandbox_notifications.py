"""Notifications the sandbox signs and sends, checked against PROVIDER.md and django_apiauth."""

from __future__ import annotations

import json

import jwt
import pytest
from sandbox.notifications import (
    hash_signature,
    payment_notification,
    tamper,
    transfer_notification,
)
from sandbox.server import BackgroundServer

from tests.vectors import HASH_FIELDS, HASH_SECRET, HASH_SIGNATURE


def test_hash_signature_matches_the_provider_test_vector():
    assert hash_signature(HASH_FIELDS, HASH_SECRET) == HASH_SIGNATURE


def test_hash_signature_ignores_metadata_and_additional_data():
    extended = {**HASH_FIELDS, "metadata": {"a": 1}, "additional_data": "x", "signature": "y"}
    assert hash_signature(extended, HASH_SECRET) == HASH_SIGNATURE


def test_payment_notification_carries_its_hash_signature(sandbox_provider):
    account = sandbox_provider.account
    notification = payment_notification(account, reference="ORDER-1")
    assert notification["signature"] == hash_signature(notification, account.signature_secret)


def test_transfer_notification_is_an_hs256_jwt(sandbox_provider):
    account = sandbox_provider.account
    body = transfer_notification(account, reference="ORDER-2")
    claims = jwt.decode(body["signature"], account.signature_secret, algorithms=["HS256"])
    assert claims["reference"] == "ORDER-2"


def test_django_apiauth_verifies_a_payment_notification_and_refuses_a_tampered_one(
    sandbox_provider,
):
    signing = pytest.importorskip("django_apiauth.signing")
    account = sandbox_provider.account
    notification = payment_notification(account)
    assert signing.verify_notification(notification, account.signature_secret) is True
    assert signing.verify_notification(tamper(notification), account.signature_secret) is False


def test_django_apiauth_decodes_a_transfer_notification_and_refuses_a_tampered_one(
    sandbox_provider,
):
    signing = pytest.importorskip("django_apiauth.signing")
    from django_apiauth.exceptions import SignatureError

    account = sandbox_provider.account
    body = transfer_notification(account, amount_cents=500)
    assert (
        signing.decode_notification(body["signature"], account.signature_secret)["amount_cents"]
        == 500
    )
    with pytest.raises(SignatureError):
        signing.decode_notification(tamper(body)["signature"], account.signature_secret)


@pytest.fixture
def receiver():
    """A merchant endpoint that records what it receives and answers 204."""
    received = []

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        received.append(json.loads(environ["wsgi.input"].read(length)))
        start_response("204 No Content", [])
        return [b""]

    with BackgroundServer(app) as server:
        yield server.url, received


@pytest.mark.live
@pytest.mark.parametrize("scheme, key", [("hash", "status"), ("jwt", "signature")])
def test_notify_endpoint_sends_a_signed_notification_to_the_merchant(
    sandbox_provider, http, receiver, scheme, key
):
    url, received = receiver
    answer = http.post(
        f"{sandbox_provider.url}/sandbox/notify",
        json={"url": f"{url}/notify", "scheme": scheme},
        timeout=5,
    )
    assert answer.json() == {"merchant_status": 204}
    (notification,) = received
    assert key in notification and "signature" in notification
    assert sandbox_provider.state.snapshot()["notifications_sent"] == 1


@pytest.mark.live
def test_notify_endpoint_can_send_a_tampered_notification(sandbox_provider, http, receiver):
    url, received = receiver
    account = sandbox_provider.account
    http.post(
        f"{sandbox_provider.url}/sandbox/notify",
        json={"url": url, "scheme": "hash", "tamper": True},
        timeout=5,
    )
    (notification,) = received
    assert notification["signature"] != hash_signature(notification, account.signature_secret)
