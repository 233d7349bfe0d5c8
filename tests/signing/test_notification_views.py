"""Receiving notifications: ``@verified_notification`` and ``VerifiedNotificationMixin``.

Served through Django's test client from ``tests/signing/urls.py``; the views in
``example/`` are the README example, as written there.
"""

from __future__ import annotations

import json
import logging
import time

import jwt
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.views import View

from django_apiauth.exceptions import ConfigurationError
from django_apiauth.notifications import (
    Notification,
    VerifiedNotificationMixin,
    verified_notification,
)
from django_apiauth.signing import notification_digest
from tests.helpers import provider_token
from tests.vectors import (
    HASH_FIELDS,
    HASH_NOTIFICATION,
    HASH_SECRET,
    JWT_PAYLOAD,
    JWT_SECRET,
    JWT_TOKEN,
    OTHER_SECRET,
    SIGNATURE_SECRET,
)

from . import views

pytestmark = [pytest.mark.urls("tests.signing.urls"), pytest.mark.django_db]

short_provider_secret = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

PAYMENT_FIELDS = {**HASH_FIELDS, "id": "ntf_1", "reference": "order-42"}


@pytest.fixture(autouse=True)
def _forget_received():
    views.RECEIVED.clear()
    yield
    views.RECEIVED.clear()


def hash_notification(fields=PAYMENT_FIELDS, secret=SIGNATURE_SECRET, **extra):
    return {**fields, "signature": notification_digest(fields, secret), **extra}


def post_json(client, url, body, **kwargs):
    return client.post(url, data=json.dumps(body), content_type="application/json", **kwargs)


# -------------------------------------------------------------- accepted


def test_a_signed_hash_notification_reaches_the_view(client, shop):
    response = post_json(client, "/recorded/", hash_notification())

    assert response.status_code == 200
    (notification,) = views.RECEIVED
    assert notification == Notification(
        credential="shop", scheme="hash", data=PAYMENT_FIELDS, unsigned={}
    )


def test_the_hash_vector_of_the_provider_is_accepted(client, make_credential):
    make_credential("shop", signature_secret=HASH_SECRET)

    response = post_json(client, "/recorded/", HASH_NOTIFICATION)

    assert response.status_code == 200
    assert views.RECEIVED[0].data == HASH_FIELDS


def test_a_signed_hash_notification_is_accepted_as_a_form(client, shop):
    response = client.post("/recorded/", data=hash_notification())

    assert response.status_code == 200
    assert views.RECEIVED[0].data == PAYMENT_FIELDS


def test_json_with_booleans_verifies_as_the_provider_spells_them(client, shop):
    body = hash_notification()  # signed with sandbox "true"
    body["sandbox"] = True

    assert post_json(client, "/recorded/", body).status_code == 200


def test_unsigned_extra_keys_are_handed_over_separately(client, shop):
    body = hash_notification(metadata={"cart": 7}, additional_data={"x": 1})

    post_json(client, "/recorded/", body)

    notification = views.RECEIVED[0]
    assert notification.data == PAYMENT_FIELDS
    assert notification.unsigned == {"metadata": {"cart": 7}, "additional_data": {"x": 1}}


@short_provider_secret
def test_the_jwt_vector_of_the_provider_is_accepted(client, make_credential):
    make_credential("shop", signature_secret=JWT_SECRET)

    response = post_json(client, "/recorded/", {"signature": JWT_TOKEN})

    assert response.status_code == 200
    assert views.RECEIVED[0] == Notification(credential="shop", scheme="jwt", data=JWT_PAYLOAD)


def test_a_jwt_notification_is_accepted_as_a_form(client, shop):
    token = provider_token({"reference": "order-42"}, SIGNATURE_SECRET)

    response = client.post("/recorded/", data={"signature": token})

    assert response.status_code == 200
    assert views.RECEIVED[0].scheme == "jwt"
    assert views.RECEIVED[0].data["reference"] == "order-42"


def test_json_sent_as_text_plain_is_read_as_json(client, shop):
    response = client.post(
        "/recorded/", data=json.dumps(hash_notification()), content_type="text/plain"
    )

    assert response.status_code == 200


def test_csrf_protection_does_not_apply_to_notifications(shop):
    strict = Client(enforce_csrf_checks=True)

    assert post_json(strict, "/recorded/", hash_notification()).status_code == 200
    assert post_json(strict, "/recorded-cbv/", hash_notification()).status_code == 200


def test_url_arguments_still_reach_the_view(client, shop):
    response = post_json(client, "/recorded/42/", hash_notification())

    assert response.content == b"ran with [('order', 42)]"


def test_the_class_based_mixin_verifies_too(client, shop):
    response = post_json(client, "/recorded-cbv/", hash_notification())

    assert response.status_code == 200
    assert views.RECEIVED[0].data == PAYMENT_FIELDS


# --------------------------------------------------------------- refused


@pytest.mark.parametrize("url", ["/recorded/", "/recorded-cbv/"])
@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_are_not_allowed(client, shop, url, method):
    response = getattr(client, method)(url)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert views.RECEIVED == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/json"),
        (b"not json", "application/json"),
        (b"{'single': 'quotes'}", "application/json"),
        (b'{"signature": ', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b'["signature", "x"]', "application/json"),
        (b'"signature"', "application/json"),
        (b"null", "application/json"),
        (b"<xml/>", "application/xml"),
    ],
)
@pytest.mark.parametrize("url", ["/recorded/", "/recorded-cbv/"])
def test_a_body_that_is_not_a_json_object_is_a_bad_request(client, shop, url, body, content_type):
    response = client.post(url, data=body, content_type=content_type)

    assert response.status_code == 400
    assert views.RECEIVED == []


@pytest.mark.parametrize("signature", [None, 42, ["x"], {"a": 1}])
def test_a_missing_or_non_string_signature_is_a_bad_request(client, shop, signature):
    body = {**PAYMENT_FIELDS, "signature": signature}
    if signature is None:
        del body["signature"]

    assert post_json(client, "/recorded/", body).status_code == 400
    assert views.RECEIVED == []


def test_a_form_without_a_signature_is_a_bad_request(client, shop):
    assert client.post("/recorded/", data=PAYMENT_FIELDS).status_code == 400


@pytest.mark.parametrize("url", ["/recorded/", "/recorded-cbv/"])
def test_a_wrong_hash_signature_is_forbidden(client, shop, url):
    response = post_json(client, url, hash_notification(secret=OTHER_SECRET))

    assert response.status_code == 403
    assert views.RECEIVED == []


def test_a_tampered_hash_field_is_forbidden(client, shop):
    body = {**hash_notification(), "status": "completed", "reference": "someone-elses-order"}

    assert post_json(client, "/recorded/", body).status_code == 403
    assert views.RECEIVED == []


def test_a_hash_notification_missing_a_field_is_forbidden(client, shop):
    body = hash_notification()
    del body["created_at"]

    assert post_json(client, "/recorded/", body).status_code == 403


def test_a_tampered_form_field_is_forbidden(client, shop):
    body = {**hash_notification(), "status": "failed"}

    assert client.post("/recorded/", data=body).status_code == 403
    assert views.RECEIVED == []


@pytest.mark.parametrize(
    "token",
    [
        provider_token({"reference": "r"}, OTHER_SECRET),
        provider_token({"reference": "r", "exp": int(time.time()) - 60}, SIGNATURE_SECRET),
        jwt.encode({"reference": "r"}, None, algorithm="none"),
        "not-a-jwt",
    ],
    ids=["other-secret", "expired", "alg-none", "not-a-jwt"],
)
@pytest.mark.parametrize("url", ["/recorded/", "/recorded-cbv/"])
def test_a_bad_jwt_notification_is_forbidden(client, shop, url, token):
    response = post_json(client, url, {"signature": token})

    assert response.status_code == 403
    assert views.RECEIVED == []


# ---------------------------------------------------- misconfiguration


def test_an_unknown_credential_is_answered_like_a_bad_signature(client, shop, caplog):
    with caplog.at_level(logging.WARNING, logger="django_apiauth.notifications"):
        response = post_json(client, "/unknown/", hash_notification())
    bad_signature = post_json(client, "/recorded/", hash_notification(secret="not-the-secret"))

    assert (response.status_code, response.content) == (403, bad_signature.content)
    assert all(record.levelno == logging.WARNING for record in caplog.records)
    assert views.RECEIVED == []
    assert "'nobody'" in caplog.text
    assert "no active credential" in caplog.text


def test_an_inactive_credential_is_answered_like_a_bad_signature(client, make_credential):
    make_credential("shop", is_active=False)

    assert post_json(client, "/recorded/", hash_notification()).status_code == 403
    assert views.RECEIVED == []


def test_a_credential_without_a_signature_secret_is_refused(client, make_credential, caplog):
    make_credential("shop", signature_secret="")

    response = post_json(client, "/recorded/", hash_notification(secret=""))

    assert response.status_code == 403
    assert "no signature secret" in caplog.text


def test_an_undecryptable_signature_secret_is_refused_and_logged(client, shop, caplog):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE django_apiauth_apicredential SET signature_secret = %s WHERE id = %s",
            ["v1:00000000:not-a-fernet-token", shop.pk],
        )

    response = post_json(client, "/recorded/", hash_notification())

    assert response.status_code == 403
    assert "cannot be decrypted" in caplog.text


def test_a_malformed_body_is_refused_before_the_credential_is_looked_up(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/unknown/", data=b"junk", content_type="application/json")

    assert response.status_code == 400
    assert not [q for q in queries.captured_queries if "apicredential" in q["sql"]]


def test_the_decorator_needs_a_credential_name():
    with pytest.raises(TypeError, match="credential"):

        @verified_notification  # forgot the parentheses and the name
        def view(request):  # pragma: no cover
            pass


# ---------------------------------------------------------- the README


def test_readme_payment_example(client, shop):
    response = post_json(client, "/shop/notifications/payment/", hash_notification())

    assert response.status_code == 200
    assert response.json() == {"reference": "order-42", "paid": True}


def test_readme_payment_example_refuses_a_forged_notification(client, shop):
    response = post_json(client, "/shop/notifications/payment/", hash_notification(secret="guess"))

    assert response.status_code == 403


def test_readme_transfer_example(client, shop):
    token = provider_token({"reference": "order-42", "amount_cents": 10000}, SIGNATURE_SECRET)

    response = post_json(client, "/shop/notifications/transfer/", {"signature": token})

    assert response.status_code == 200
    assert response.json() == {"reference": "order-42", "amount_cents": 10000}


def test_readme_transfer_example_refuses_get(client, shop):
    assert client.get("/shop/notifications/transfer/").status_code == 405


def test_a_body_over_djangos_upload_limit_is_refused_before_the_view(client, shop, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64

    response = post_json(client, "/recorded/", hash_notification(metadata="x" * 100))

    assert response.status_code == 413
    assert views.RECEIVED == []


def test_a_class_based_view_without_a_credential_name_fails_loudly(rf):
    class Forgetful(VerifiedNotificationMixin, View):
        def post(self, request):  # pragma: no cover
            raise AssertionError("must not run")

    with pytest.raises(ConfigurationError, match="Forgetful must set notification_credential"):
        Forgetful.as_view()(rf.post("/", data="{}", content_type="application/json"))
