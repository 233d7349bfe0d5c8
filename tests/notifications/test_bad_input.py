"""Malformed bodies: a fixed 4xx text and a log line, never a 500 and never an echo."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from django_apiauth.models import NotificationDelivery

from .conftest import PAYMENT_URL, TRANSFER_URL, payment

pytestmark = [pytest.mark.urls("tests.notifications.urls"), pytest.mark.django_db]

MARKER = "body-marker-5e1d"

BAD_JSON_BODIES = {
    "invalid-utf8": b'{"id": "' + MARKER.encode() + b'\xff\xfe"}',
    "deep-nesting": b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "nesting-under-the-recursion-limit": b'{"m": ' + b"[" * 40 + b"]" * 40 + b"}",
    "huge-number": b'{"id": ' + b"9" * 5000 + b', "x": "' + MARKER.encode() + b'"}',
    "huge-float": b'{"id": 1e999}',
    "nan": b'{"id": NaN, "x": "' + MARKER.encode() + b'"}',
    "infinity": b'{"id": -Infinity}',
    "thousands-of-fields": json.dumps({f"k{i}": MARKER for i in range(5000)}).encode(),
    "duplicate-keys": b'{"status": "failed", "status": "completed"}',
    "not-an-object": b'["' + MARKER.encode() + b'"]',
    "truncated": b'{"id": "' + MARKER.encode(),
    "empty": b"",
    "xml": b"<notification>" + MARKER.encode() + b"</notification>",
}


@pytest.mark.parametrize("url", [PAYMENT_URL, TRANSFER_URL])
@pytest.mark.parametrize("name", sorted(BAD_JSON_BODIES))
def test_a_malformed_body_gets_a_fixed_400_and_a_log_line(client, shop, caplog, url, name):
    caplog.set_level(logging.DEBUG)

    response = client.post(url, data=BAD_JSON_BODIES[name], content_type="application/json")

    assert response.status_code == 400
    assert response.content == b"malformed notification"
    assert "refused" in caplog.text
    assert MARKER not in caplog.text


def test_three_megabytes_are_refused_as_too_large(client, shop):
    body = json.dumps({**payment(), "metadata": MARKER * 200_000})

    response = client.post(PAYMENT_URL, data=body, content_type="application/json")

    assert response.status_code == 413
    assert response.content == b"notification too large"


@pytest.mark.parametrize("content_type", ["application/xml", "text/html", "image/png", ""])
def test_a_wrong_content_type_with_garbage_is_a_400(client, shop, content_type):
    response = client.post(
        PAYMENT_URL, data=b"\x89PNG" + MARKER.encode(), content_type=content_type
    )

    assert response.status_code == 400


def test_a_json_notification_labelled_text_plain_is_still_read(client, shop):
    response = client.post(PAYMENT_URL, data=json.dumps(payment()), content_type="text/plain")

    assert response.status_code == 200


def test_a_form_with_thousands_of_fields_is_a_400(client, shop):
    response = client.post(
        PAYMENT_URL,
        data="&".join(f"k{i}=v" for i in range(5000)),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400


def test_a_form_with_a_repeated_field_is_a_400(client, shop):
    body = payment()
    form = "&".join(f"{key}={value}" for key, value in body.items() if key != "metadata")

    response = client.post(
        PAYMENT_URL, data=form + "&status=failed", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400


def test_a_file_upload_is_a_400(client, shop):
    fields = {k: v for k, v in payment().items() if k != "metadata"}

    response = client.post(PAYMENT_URL, data={**fields, "f": SimpleUploadedFile("a.txt", b"x")})

    assert response.status_code == 400


def test_a_signed_form_is_accepted(client, shop):
    fields = {k: v for k, v in payment().items() if k != "metadata"}

    assert client.post(PAYMENT_URL, data=fields).status_code == 200


def test_a_refused_body_is_logged_without_being_stored_when_unreadable(client, shop):
    client.post(PAYMENT_URL, data=BAD_JSON_BODIES["invalid-utf8"], content_type="application/json")

    delivery = NotificationDelivery.objects.get()
    assert (delivery.outcome, delivery.body) == (NotificationDelivery.Outcome.REFUSED, "")
    assert delivery.reason == "body is not UTF-8 text"


@pytest.mark.parametrize("name", sorted(BAD_JSON_BODIES))
def test_no_malformed_body_raises(client, shop, name):
    client.raise_request_exception = True  # an exception would fail the test here

    client.post(PAYMENT_URL, data=BAD_JSON_BODIES[name], content_type="application/json")
