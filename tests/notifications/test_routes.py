"""The ready-made routes of ``include("django_apiauth.urls")``: verify, log, deduplicate, signal."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_apiauth.models import NotificationDelivery
from tests.vectors import OTHER_SECRET

from .conftest import PAYMENT_URL, TRANSFER_URL, payment, post_json, transfer

pytestmark = [pytest.mark.urls("tests.notifications.urls"), pytest.mark.django_db]

Outcome = NotificationDelivery.Outcome


def test_the_routes_are_named_in_the_apps_namespace():
    assert reverse("django_apiauth:payment_notification", args=["shop"]) == PAYMENT_URL
    assert reverse("django_apiauth:transfer_notification", args=["shop"]) == TRANSFER_URL


def test_a_payment_is_handed_to_the_receivers_with_the_contract_arguments(client, shop, received):
    body = payment(id="pay_77")

    response = post_json(client, PAYMENT_URL, body)

    assert response.status_code == 200
    (call,) = received.calls
    assert call["credential"] == "shop"
    assert call["scheme"] == "hash"
    assert call["data"]["id"] == "pay_77"
    assert call["notification"].unsigned == {"metadata": {"cart": 7}}


def test_a_transfer_is_handed_to_the_receivers_with_the_contract_arguments(client, shop, received):
    response = post_json(client, TRANSFER_URL, transfer(amount_cents=4200))

    assert response.status_code == 200
    (call,) = received.calls
    assert (call["credential"], call["scheme"]) == ("shop", "jwt")
    assert call["data"]["amount_cents"] == 4200


def test_the_payment_route_refuses_a_transfer(client, shop, received, refused):
    response = post_json(client, PAYMENT_URL, transfer())

    assert response.status_code == 400
    assert received.calls == []
    assert refused.calls[0]["scheme"] == ""
    assert "accepts hash" in refused.calls[0]["reason"]


def test_the_transfer_route_refuses_a_payment(client, shop, received):
    assert post_json(client, TRANSFER_URL, payment()).status_code == 400
    assert received.calls == []


def test_a_forged_payment_is_refused_with_a_signal(client, shop, received, refused):
    response = post_json(client, PAYMENT_URL, payment(secret=OTHER_SECRET))

    assert response.status_code == 403
    assert received.calls == []
    assert refused.calls == [
        {"credential": "shop", "scheme": "hash", "reason": "hash scheme: signature does not match"}
    ]


def test_a_redelivery_is_answered_200_but_not_handed_over_again(client, shop, received):
    body = payment()

    first = post_json(client, PAYMENT_URL, body)
    again = post_json(client, PAYMENT_URL, body)

    assert (first.status_code, again.status_code) == (200, 200)
    assert len(received.calls) == 1
    outcomes = list(NotificationDelivery.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [Outcome.ACCEPTED, Outcome.DUPLICATE]


def test_a_transfer_redelivery_is_recognised_by_the_token(client, shop, received):
    body = transfer()

    post_json(client, TRANSFER_URL, body)
    post_json(client, TRANSFER_URL, body)

    assert len(received.calls) == 1


def test_two_transfers_without_jti_are_two_notifications(client, shop, received):
    post_json(client, TRANSFER_URL, transfer())
    post_json(client, TRANSFER_URL, transfer())

    assert len(received.calls) == 2


def test_the_same_id_on_another_credential_is_another_notification(client, shop, received):
    from django_apiauth.models import ApiCredential

    ApiCredential.objects.create(
        name="shop-de",
        base_url="https://provider.example",
        api_key="k",
        api_secret="s",
        signature_secret=OTHER_SECRET,
    )
    post_json(client, PAYMENT_URL, payment(id="pay_same"))
    post_json(
        client, "/provider/notifications/shop-de/payment/", payment(OTHER_SECRET, id="pay_same")
    )

    assert [call["credential"] for call in received.calls] == ["shop", "shop-de"]


def test_a_failing_receiver_answers_500_and_logs_the_delivery_as_error(client, shop, received):
    received.fail_with = RuntimeError("database of the shop is down")

    response = post_json(client, PAYMENT_URL, payment())

    assert response.status_code == 500
    delivery = NotificationDelivery.objects.get()
    assert delivery.outcome == Outcome.ERROR
    assert "RuntimeError: database of the shop is down" in delivery.error
    assert delivery.claim is None


def test_the_retry_after_a_failing_receiver_is_processed_again(client, shop, received):
    body = payment()
    received.fail_with = RuntimeError("transient")
    post_json(client, PAYMENT_URL, body)
    received.fail_with = None

    response = post_json(client, PAYMENT_URL, body)

    assert response.status_code == 200
    assert len(received.calls) == 2
    assert NotificationDelivery.objects.filter(outcome=Outcome.ACCEPTED).count() == 1


def test_a_failing_receivers_database_writes_are_rolled_back(client, shop, received):
    from django_apiauth.models import ApiCredential

    def write_then_fail(sender, **kwargs):
        ApiCredential.objects.filter(name="shop").update(merchant_uid="written-by-receiver")
        raise RuntimeError("after writing")

    from django_apiauth.signals import notification_received

    notification_received.connect(write_then_fail, weak=False)
    try:
        post_json(client, PAYMENT_URL, payment())
    finally:
        notification_received.disconnect(write_then_fail)

    assert ApiCredential.objects.get(name="shop").merchant_uid == ""


def test_a_traceback_never_holds_the_signature_secret(client, shop, received):
    from tests.vectors import SIGNATURE_SECRET

    received.fail_with = RuntimeError(f"oops with {SIGNATURE_SECRET}")

    post_json(client, PAYMENT_URL, payment())

    delivery = NotificationDelivery.objects.get()
    assert SIGNATURE_SECRET not in delivery.error
    assert SIGNATURE_SECRET not in delivery.reason
    assert "[redacted]" in delivery.error


def test_an_unknown_credential_is_answered_like_a_bad_signature(client, shop, received):
    unknown = post_json(client, "/provider/notifications/nobody/payment/", payment())
    forged = post_json(client, PAYMENT_URL, payment(secret=OTHER_SECRET))

    assert (unknown.status_code, unknown.content) == (forged.status_code, forged.content)
    assert received.calls == []


def test_the_routes_only_take_posts(client, shop):
    response = client.get(PAYMENT_URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_a_failing_refusal_receiver_does_not_change_the_answer(client, shop, refused):
    refused.fail_with = RuntimeError("monitoring is down")

    assert post_json(client, PAYMENT_URL, payment(secret=OTHER_SECRET)).status_code == 403


# ----------------------------------------------------------- custom views


def test_a_view_declares_its_scheme(client, shop):
    assert post_json(client, "/hash-only/", transfer()).status_code == 400
    assert post_json(client, "/jwt-only/", payment()).status_code == 400
    assert post_json(client, "/jwt-only/", transfer()).status_code == 200


def test_a_decorated_view_runs_once_per_notification(client, shop):
    from . import views

    body = payment()
    post_json(client, "/hash-only/", body)
    response = post_json(client, "/hash-only/", body)

    assert response.status_code == 200
    assert response.content == b"notification already processed"
    assert len(views.RECEIVED) == 1


def test_a_view_raising_is_djangos_500_and_the_retry_runs_again(client, shop):
    from . import views

    client.raise_request_exception = False
    body = payment()
    assert post_json(client, "/failing-view/", body).status_code == 500
    assert post_json(client, "/failing-view/", body).status_code == 500

    assert len(views.RECEIVED) == 2
    assert NotificationDelivery.objects.filter(outcome=Outcome.ERROR).count() == 2


def test_a_view_answering_an_error_leaves_the_notification_unprocessed(client, shop):
    from . import views

    body = payment()
    first = post_json(client, "/declining-view/", body)
    post_json(client, "/declining-view/", body)

    assert first.status_code == 409
    assert len(views.RECEIVED) == 2
