"""The delivery log: encrypted bodies, no secrets, retention, the read-only admin, process again."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from django_apiauth.models import NotificationDelivery
from tests.vectors import OTHER_SECRET, SIGNATURE_SECRET

from .conftest import PAYMENT_URL, TRANSFER_URL, payment, post_json, transfer

pytestmark = [pytest.mark.urls("tests.notifications.urls"), pytest.mark.django_db]

Outcome = NotificationDelivery.Outcome
BUYER = "buyer-marker-jane.doe@example.com"
CHANGELIST = "/admin/django_apiauth/notificationdelivery/"


def raw_row(pk: int) -> tuple:
    table = connection.ops.quote_name(NotificationDelivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()


def test_a_delivery_records_what_happened(client, shop, received):
    post_json(
        client, PAYMENT_URL, payment(id="pay_9", reference="order-9"), REMOTE_ADDR="203.0.113.7"
    )

    delivery = NotificationDelivery.objects.get()
    assert (delivery.credential, delivery.scheme, delivery.outcome) == ("shop", "hash", "accepted")
    assert (delivery.notification_id, delivery.reference) == ("pay_9", "order-9")
    assert delivery.remote_addr == "203.0.113.7"
    assert delivery.handler == "signals"
    assert delivery.finished_at is not None


def test_the_body_is_stored_encrypted(client, shop, received):
    post_json(client, PAYMENT_URL, payment(metadata={"email": BUYER}))

    delivery = NotificationDelivery.objects.get()
    assert BUYER in delivery.body
    assert not any(BUYER in str(value) for value in raw_row(delivery.pk))


def test_no_row_ever_holds_the_secret(client, shop, received):
    received.fail_with = RuntimeError(f"leaky {SIGNATURE_SECRET}")
    post_json(client, PAYMENT_URL, payment())
    post_json(client, PAYMENT_URL, payment(secret=OTHER_SECRET))
    post_json(client, TRANSFER_URL, transfer())
    post_json(client, PAYMENT_URL, b"junk")

    for delivery in NotificationDelivery.objects.all():
        stored = " ".join(str(value) for value in raw_row(delivery.pk))
        assert SIGNATURE_SECRET not in stored
        assert SIGNATURE_SECRET not in delivery.body + delivery.error + delivery.reason
        assert SIGNATURE_SECRET not in repr(delivery) + str(delivery)


def test_a_refusal_records_why(client, shop):
    post_json(client, PAYMENT_URL, payment(secret=OTHER_SECRET))

    delivery = NotificationDelivery.objects.get()
    assert (delivery.outcome, delivery.reason) == (
        Outcome.REFUSED,
        "hash scheme: signature does not match",
    )


# ------------------------------------------------------------------ retention


def age(days: int) -> None:
    NotificationDelivery.objects.update(received_at=timezone.now() - timedelta(days=days))


def test_prune_deletes_rows_older_than_the_retention(client, shop, received, settings):
    settings.APIAUTH = {**settings.APIAUTH, "NOTIFICATION_RETENTION_DAYS": 10}
    post_json(client, PAYMENT_URL, payment())
    age(11)
    post_json(client, PAYMENT_URL, payment())
    out = StringIO()

    call_command("apiauth_prune_notifications", stdout=out)

    assert NotificationDelivery.objects.count() == 1
    assert "1 notification delivery older than 10 days deleted" in out.getvalue()


def test_prune_keeps_rows_within_the_days_given(client, shop, received):
    post_json(client, PAYMENT_URL, payment())
    age(5)

    call_command("apiauth_prune_notifications", "--days", "7", stdout=StringIO())

    assert NotificationDelivery.objects.count() == 1


def test_prune_refuses_a_retention_under_one_day():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("apiauth_prune_notifications", "--days", "0")


# ---------------------------------------------------------------------- admin


@pytest.fixture
def staff(db):
    user = User.objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_notificationdelivery"))
    return user


@pytest.fixture
def reprocessor(staff):
    staff.user_permissions.add(Permission.objects.get(codename="reprocess_notificationdelivery"))
    return staff


def test_the_admin_lists_deliveries_read_only(client, shop, received, staff):
    post_json(client, PAYMENT_URL, payment(id="pay_listed", metadata={"email": BUYER}))
    client.force_login(staff)

    page = client.get(CHANGELIST).content.decode()
    detail = client.get(f"{CHANGELIST}{NotificationDelivery.objects.get().pk}/change/")

    assert "pay_listed" in page
    assert "Add notification delivery" not in page
    assert detail.status_code == 200
    assert "View notification delivery" in detail.content.decode()  # Django's read-only view
    assert 'name="_save"' not in detail.content.decode()
    assert BUYER not in page + detail.content.decode()


@pytest.mark.parametrize("query", ["outcome__exact=error", "scheme__exact=jwt", "credential=shop"])
def test_the_admin_filters(client, shop, staff, query):
    client.force_login(staff)

    assert client.get(f"{CHANGELIST}?{query}").status_code == 200


def test_process_again_needs_its_permission(client, shop, received, staff):
    received.fail_with = RuntimeError("x")
    post_json(client, PAYMENT_URL, payment())
    client.force_login(staff)

    page = client.get(CHANGELIST).content.decode()

    assert "process_again" not in page


def test_process_again_hands_a_failed_delivery_to_the_receivers(
    client, shop, received, reprocessor
):
    received.fail_with = RuntimeError("transient")
    post_json(client, PAYMENT_URL, payment(id="pay_retry"))
    failed = NotificationDelivery.objects.get()
    received.fail_with = None
    client.force_login(reprocessor)

    response = client.post(
        CHANGELIST, {"action": "process_again", "_selected_action": [failed.pk]}, follow=True
    )

    assert "processed again" in response.content.decode()
    assert [call["data"]["id"] for call in received.calls] == ["pay_retry", "pay_retry"]
    assert NotificationDelivery.objects.filter(outcome=Outcome.ACCEPTED).count() == 1


def test_process_again_does_not_repeat_what_the_providers_retry_processed(
    client, shop, received, reprocessor
):
    body = payment()
    received.fail_with = RuntimeError("transient")
    post_json(client, PAYMENT_URL, body)
    failed = NotificationDelivery.objects.get()
    received.fail_with = None
    post_json(client, PAYMENT_URL, body)  # the provider's retry
    client.force_login(reprocessor)

    response = client.post(
        CHANGELIST, {"action": "process_again", "_selected_action": [failed.pk]}, follow=True
    )

    assert "already processed" in response.content.decode()
    assert len(received.calls) == 2  # the failed attempt and the retry, not a third


def test_process_again_works_for_a_transfer_that_has_expired_since(
    client, shop, received, reprocessor, settings
):
    import time

    received.fail_with = RuntimeError("transient")
    post_json(client, TRANSFER_URL, transfer(exp=int(time.time()) - 30))  # within the leeway
    failed = NotificationDelivery.objects.get()
    received.fail_with = None
    settings.APIAUTH = {**settings.APIAUTH, "NOTIFICATION_LEEWAY": 0}  # now it is expired
    client.force_login(reprocessor)

    response = client.post(
        CHANGELIST, {"action": "process_again", "_selected_action": [failed.pk]}, follow=True
    )

    assert "processed again" in response.content.decode()
    assert len(received.calls) == 2


# ----------------------------------------------------------------- no secrets


def test_logs_and_admin_pages_never_show_the_secret(client, shop, received, reprocessor, caplog):
    caplog.set_level(logging.DEBUG)
    received.fail_with = RuntimeError(f"leak {SIGNATURE_SECRET}")
    bodies = [
        payment(metadata={"email": BUYER}),
        payment(secret=OTHER_SECRET),
        transfer(),
        {"signature": "x" * 40, "note": BUYER},
    ]
    for body in bodies:
        post_json(client, PAYMENT_URL, body)
        post_json(client, TRANSFER_URL, body)
    client.force_login(reprocessor)
    pages = [client.get(CHANGELIST).content.decode()]
    for delivery in NotificationDelivery.objects.all():
        pages.append(client.get(f"{CHANGELIST}{delivery.pk}/change/").content.decode())
    pages.append(
        client.post(
            CHANGELIST,
            {
                "action": "process_again",
                "_selected_action": list(NotificationDelivery.objects.values_list("pk", flat=True)),
            },
            follow=True,
        ).content.decode()
    )

    text = caplog.text + "".join(pages)
    assert SIGNATURE_SECRET not in text
    assert BUYER not in text
    assert json.dumps(bodies[0]) not in text
