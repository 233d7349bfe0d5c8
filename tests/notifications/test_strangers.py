"""What anyone on the internet can make the notification routes do (issue 19, findings 2 and 6)."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
from django.core import mail

from django_apiauth.models import NotificationDelivery

from .conftest import PAYMENT_URL, payment, post_json

pytestmark = [pytest.mark.urls("tests.notifications.urls"), pytest.mark.django_db]

UNKNOWN_URL = "/provider/notifications/nobody/payment/"


def test_a_refused_delivery_keeps_its_metadata_not_its_body(client, shop):
    body = payment(secret="not-the-secret", metadata={"filler": "x" * 100_000})
    raw = json.dumps(body).encode()

    response = client.post(PAYMENT_URL, data=raw, content_type="application/json")

    assert response.status_code == 403
    row = NotificationDelivery.objects.get()
    assert (row.outcome, row.body, row.body_size) == ("refused", "", len(raw))
    assert row.body_sha256 == hashlib.sha256(raw).hexdigest()
    assert row.remote_addr == "127.0.0.1" and "signature" in row.reason


def test_an_accepted_delivery_keeps_its_raw_body(client, shop, received):
    raw = json.dumps(payment()).encode()

    assert client.post(PAYMENT_URL, data=raw, content_type="application/json").status_code == 200
    assert NotificationDelivery.objects.get().body == raw.decode()


def test_unknown_names_mail_no_admin(client, db, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.DEBUG = False

    for _ in range(5):
        assert post_json(client, UNKNOWN_URL, payment()).status_code == 403

    assert mail.outbox == []


def test_refusals_are_logged_once_a_minute_per_name(client, db, caplog):
    with caplog.at_level(logging.WARNING, logger="django_apiauth.notifications"):
        for _ in range(5):
            post_json(client, UNKNOWN_URL, payment())

    lines = [r for r in caplog.records if r.name.startswith("django_apiauth.notifications")]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING and "nobody" in lines[0].getMessage()
    assert all(getattr(r, "request", None) is None for r in lines)
