"""Notifications the sandbox signs and sends, checked against PROVIDER.md and django_apiauth."""

from __future__ import annotations

import jwt
import pytest

from django_apiauth.testing import Account
from django_apiauth.testing.notifications import (
    deliver,
    hash_signature,
    payment_notification,
    tamper,
    transfer_notification,
)
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


@pytest.mark.live
@pytest.mark.parametrize("scheme, key", [("hash", "status"), ("jwt", "signature")])
def test_notify_endpoint_sends_a_signed_notification_to_the_merchant(
    sandbox_provider, http, receiver, scheme, key
):
    answer = http.post(
        f"{sandbox_provider.url}/sandbox/notify",
        json={"url": f"{receiver.url}/notify", "scheme": scheme},
        timeout=5,
    )
    assert answer.json() == {"merchant_status": 204, "attempts": 1}
    (notification,) = receiver.received
    assert key in notification and "signature" in notification
    assert sandbox_provider.state.snapshot()["notifications_sent"] == 1


@pytest.mark.live
def test_notify_endpoint_can_send_a_tampered_notification(sandbox_provider, http, receiver):
    account = sandbox_provider.account
    http.post(
        f"{sandbox_provider.url}/sandbox/notify",
        json={"url": receiver.url, "scheme": "hash", "tamper": True},
        timeout=5,
    )
    (notification,) = receiver.received
    assert notification["signature"] != hash_signature(notification, account.signature_secret)


@pytest.mark.live
def test_delivery_is_retried_after_a_non_2xx_answer(receiver):
    receiver.statuses[:] = [500, 503]
    account = Account.generate()
    delivery = deliver(receiver.url, payment_notification(account), attempts=3, backoff=0)
    assert (delivery.status, delivery.attempts, len(receiver.received)) == (204, 3, 3)


@pytest.mark.live
def test_delivery_gives_up_after_its_attempts_and_reports_the_last_status(receiver):
    receiver.statuses[:] = [500, 500, 500]
    account = Account.generate()
    delivery = deliver(receiver.url, payment_notification(account), attempts=2, backoff=0)
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, 500, 2)
    assert len(receiver.received) == 2


def test_delivery_of_a_notification_to_nowhere_reports_status_0():
    account = Account.generate()
    delivery = deliver("http://127.0.0.1:9/", payment_notification(account), attempts=1)
    assert (delivery.ok, delivery.status) == (False, 0)


def test_notify_endpoint_refuses_an_unknown_scheme(sandbox_provider, http):
    answer = http.post(
        f"{sandbox_provider.url}/sandbox/notify",
        json={"url": "http://127.0.0.1:9/", "scheme": "md5"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert "scheme must be hash or jwt" in answer.json()["error_description"]


def test_fake_provider_sends_a_notification_to_a_live_url_through_the_mock(fake_provider, receiver):
    delivery = fake_provider.send_notification(receiver.url, "jwt", backoff=0)
    assert delivery.status == 204
    (body,) = receiver.received
    claims = jwt.decode(
        body["signature"], fake_provider.account.signature_secret, algorithms=["HS256"]
    )
    assert claims["amount_cents"] == 10000
