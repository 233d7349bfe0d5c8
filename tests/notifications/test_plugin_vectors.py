"""Vectors derived from the provider's merchant plugins (Sylius/Oro and the PHP-concatenating ones).

Each signature is computed here the way the plugin code does it — independently
of ``django_apiauth.signing`` — and the app must agree: accept what they accept,
refuse what they disagree on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from django_apiauth.exceptions import SignatureError
from django_apiauth.notifications.verify import check_hash, check_jwt
from django_apiauth.signing import decode_notification, sign, verify_notification
from tests.vectors import SIGNATURE_SECRET

from . import views
from .conftest import PAYMENT_URL, TRANSFER_URL, post_json

pytestmark = [pytest.mark.urls("tests.notifications.urls")]

SIGNED = ("created_at", "error", "id", "reference", "sandbox", "status")


def sylius(value) -> str:
    """Sylius/OroCommerce: ``sprintf('%s=%s')`` after booleans became 'true'/'false'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def php_concat(value) -> str:
    """WooCommerce/Magento/PrestaShop: PHP string concatenation (true '1', false/null '')."""
    if isinstance(value, bool):
        return "1" if value else ""
    return "" if value is None else str(value)


def plugin_signed(body: dict, render, secret: str = SIGNATURE_SECRET) -> dict:
    message = secret.join(f"{key}={render(body[key])}" for key in SIGNED)
    return {**body, "signature": hashlib.sha256(message.encode()).hexdigest().upper()}


BASE = {
    "created_at": "2024-05-01T10:00:00Z",
    "error": "",
    "id": "pay_1",
    "reference": "order-42",
    "sandbox": "true",
    "status": "completed",
}


@pytest.mark.parametrize("render", [sylius, php_concat], ids=["sylius", "php"])
@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"error": None},
        {"sandbox": True},
        {"sandbox": False},
        {"id": 1086986786391},
        {"id": -7, "error": None, "sandbox": False},
        {"reference": "Commande n°42 — été"},
    ],
    ids=["strings", "null", "true", "false", "integer", "mixed", "unicode"],
)
def test_what_a_plugin_signs_verifies(render, fields):
    body = plugin_signed({**BASE, **fields}, render)

    assert verify_notification(body, SIGNATURE_SECRET) is True


@pytest.mark.parametrize(
    ("value", "render", "seen"),
    [
        (True, sylius, "true"),
        (True, php_concat, "1"),
        (False, sylius, "false"),
        (False, php_concat, ""),
        (None, sylius, ""),
        (7, sylius, "7"),
    ],
)
def test_the_verified_data_holds_the_text_that_was_hashed(value, render, seen):
    body = plugin_signed({**BASE, "sandbox": value}, render)

    assert check_hash(body, SIGNATURE_SECRET)["sandbox"] == seen


@pytest.mark.parametrize(
    ("typed", "retyped"),
    [({"sandbox": False}, {"sandbox": "false"}), ({"id": 7}, {"id": "7"})],
)
def test_retyping_a_value_cannot_change_what_the_site_reads(typed, retyped):
    original = plugin_signed({**BASE, **typed}, sylius)
    forged = {**original, **retyped}

    assert check_hash(forged, SIGNATURE_SECRET) == check_hash(original, SIGNATURE_SECRET)


def test_a_null_error_retyped_as_the_word_null_no_longer_verifies():
    original = plugin_signed({**BASE, "error": None}, sylius)

    assert verify_notification({**original, "error": "null"}, SIGNATURE_SECRET) is False


@pytest.mark.parametrize(
    "value",
    [1.5, 10.0, [1, 2], {"a": 1}, 2**64],
    ids=["float", "whole-float", "list", "obj", "big"],
)
def test_values_the_plugins_disagree_on_are_refused(value):
    body = {**BASE, "status": value, "signature": "0" * 64}

    with pytest.raises(SignatureError, match="'status'"):
        check_hash(body, SIGNATURE_SECRET)


@pytest.mark.parametrize("missing", SIGNED)
def test_a_missing_hashed_field_is_refused_even_if_the_rest_hashes(missing):
    # PHP renders a missing key as "", so the plugins would accept this: the app does not.
    body = {key: value for key, value in BASE.items() if key != missing}
    signed = plugin_signed({**body, missing: ""}, php_concat)
    del signed[missing]

    with pytest.raises(SignatureError, match=f"missing: {missing}"):
        check_hash(signed, SIGNATURE_SECRET)


# ------------------------------------------------------------------- JWT scheme


def provider_token(secret: str = SIGNATURE_SECRET, **claims) -> str:
    """A token as the provider's side makes it: PyJWT directly, a flat payload."""
    payload = {"reference": "order-42", "amount_cents": 10000, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def test_a_token_with_an_audience_is_accepted():
    token = provider_token(aud="merchant-site")

    assert decode_notification(token, SIGNATURE_SECRET)["aud"] == "merchant-site"


@pytest.mark.parametrize("claim", ["sub", "jti"])
@pytest.mark.parametrize("value", [42, ["a"], {"k": 1}])
def test_non_string_sub_and_jti_are_accepted(claim, value):
    # PyJWT's own encoder refuses these claims; a JWS of the raw payload is what php-jwt sends.
    payload = json.dumps({"reference": "order-42", claim: value}).encode()
    token = jwt.api_jws.encode(payload, SIGNATURE_SECRET, algorithm="HS256")

    assert decode_notification(token, SIGNATURE_SECRET)[claim] == value


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_provider_clock_a_few_seconds_ahead_is_tolerated(claim):
    token = provider_token(**{claim: int(time.time()) + 5})

    assert decode_notification(token, SIGNATURE_SECRET)["reference"] == "order-42"


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_clock_further_ahead_than_the_leeway_is_refused(claim):
    token = provider_token(**{claim: int(time.time()) + 300})

    with pytest.raises(SignatureError, match="not valid yet"):
        decode_notification(token, SIGNATURE_SECRET)


def test_a_token_expired_within_the_leeway_is_accepted():
    token = provider_token(exp=int(time.time()) - 30)

    assert decode_notification(token, SIGNATURE_SECRET)["reference"] == "order-42"


def test_the_leeway_is_a_setting(settings):
    settings.APIAUTH = {**settings.APIAUTH, "NOTIFICATION_LEEWAY": 0}
    token = provider_token(iat=int(time.time()) + 5)

    with pytest.raises(SignatureError, match="not valid yet"):
        decode_notification(token, SIGNATURE_SECRET)


@pytest.mark.parametrize(
    "payload",
    [
        {"data": {"reference": "order-42", "amountCents": 100}},
        {"data": {}, "purchase_link_settings": {"x": 1}},
        {"purchase_link_settings": {"x": 1}, "reference": "order-42"},
    ],
    ids=["data", "data+settings", "settings"],
)
def test_a_merchant_shaped_token_is_never_a_notification(payload):
    # Without sign()'s header: what a release before it signed.
    with pytest.raises(SignatureError, match="merchant"):
        decode_notification(jwt.encode(payload, SIGNATURE_SECRET), SIGNATURE_SECRET)


def test_a_merchant_token_without_exp_is_refused_too():
    token = jwt.encode({"data": {"reference": "r"}}, SIGNATURE_SECRET, algorithm="HS256")

    with pytest.raises(SignatureError, match="merchant"):
        decode_notification(token, SIGNATURE_SECRET)


def test_the_identity_of_a_token_is_its_jti():
    assert check_jwt(provider_token(jti="t-1"), SIGNATURE_SECRET).identity == "jti:t-1"


def test_a_re_encoded_token_is_refused_or_keeps_its_identity():
    # Base64url's last character carries spare bits: a different string, the same token.
    token = provider_token()
    head, payload, mac = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(mac[-1])
    twin = f"{head}.{payload}.{mac[:-1]}{alphabet[index ^ 1]}"
    assert twin != token

    try:
        twin_identity = check_jwt(twin, SIGNATURE_SECRET).identity
    except SignatureError:
        return  # recent PyJWT refuses non-canonical base64url outright: also safe
    assert twin_identity == check_jwt(token, SIGNATURE_SECRET).identity


# --------------------------------------------------------------- through views


@pytest.mark.django_db
@pytest.mark.parametrize("url", [PAYMENT_URL, TRANSFER_URL, "/hash-only/", "/jwt-only/"])
def test_views_refuse_the_merchants_signed_parameters(client, shop, received, url):
    token = sign({"data": {"reference": "order-42"}}, SIGNATURE_SECRET, expires_in=600)

    response = post_json(client, url, {"signature": token})

    assert response.status_code in (400, 403)
    assert received.calls == []


SITE_SIGNED_FLAT_PAYLOADS = [
    {"reference": "order-42", "amount_cents": 10000},
    {"reference": "order-42", "transfer_order_item_uid": "tri_1", "jti": "t-1"},
    {},
]


@pytest.mark.parametrize("payload", SITE_SIGNED_FLAT_PAYLOADS)
def test_a_flat_token_the_site_signed_is_never_a_notification(payload):
    # Issue 19, item 4: sign() also signs flat payloads, with the same secret.
    token = sign(payload, SIGNATURE_SECRET, expires_in=600)

    with pytest.raises(SignatureError, match="signed by this site"):
        decode_notification(token, SIGNATURE_SECRET)
    with pytest.raises(SignatureError, match="signed by this site"):
        check_jwt(token, SIGNATURE_SECRET, check_times=False)


def test_what_sign_produces_still_verifies_as_the_provider_checks_it():
    # The plugins' HS256 handlers check the HMAC over the two segments as sent and
    # ignore header parameters they do not know (RFC 7515 §4): so does PyJWT.
    token = sign({"data": {"reference": "order-42"}}, SIGNATURE_SECRET)

    assert jwt.decode(token, SIGNATURE_SECRET, algorithms=["HS256"])["data"]["reference"] == (
        "order-42"
    )
    header, body, mac = token.split(".")
    expected = hmac.new(SIGNATURE_SECRET.encode(), f"{header}.{body}".encode(), "sha256")
    assert base64.urlsafe_b64encode(expected.digest()).rstrip(b"=").decode() == mac


@pytest.mark.django_db
@pytest.mark.parametrize("url", [TRANSFER_URL, "/jwt-only/", "/async-view/"])
def test_views_refuse_a_flat_token_the_site_signed(client, shop, received, url):
    views.RECEIVED.clear()
    token = sign({"reference": "order-42", "amount_cents": 10000}, SIGNATURE_SECRET, expires_in=600)

    response = post_json(client, url, {"signature": token})

    assert response.status_code == 403
    assert received.calls == []
    assert views.RECEIVED == []
