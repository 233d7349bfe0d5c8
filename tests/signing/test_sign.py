"""``sign`` and the signed query helpers: HS256 JWTs that PyJWT, an independent verifier, takes."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from django_apiauth.exceptions import ConfigurationError, SignatureError
from django_apiauth.signing import sign, signed_query, signed_url
from tests.vectors import OTHER_SECRET, SIGNATURE_SECRET

PURCHASE = {
    "data": {
        "merchantUid": "mer_8ec99f9a",
        "amountCents": 1500,
        "email": "buyer@example.com",
        "reference": "order-42",
    },
    "purchase_link_settings": {"expiration_days": 3},
}


def pyjwt_decode(token: str, secret: str = SIGNATURE_SECRET) -> dict:
    return jwt.decode(token, secret, algorithms=["HS256"])


def header_of(token: str) -> dict:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_sign_produces_an_hs256_jwt_pyjwt_accepts():
    token = sign(PURCHASE, SIGNATURE_SECRET)

    assert header_of(token)["alg"] == "HS256"
    decoded = pyjwt_decode(token)
    assert decoded["data"] == PURCHASE["data"]


def test_sign_passes_extra_top_level_keys_through():
    decoded = pyjwt_decode(sign(PURCHASE, SIGNATURE_SECRET))

    assert decoded["purchase_link_settings"] == {"expiration_days": 3}


def test_sign_adds_iat_now():
    before = int(time.time())
    decoded = pyjwt_decode(sign(PURCHASE, SIGNATURE_SECRET))
    after = int(time.time())

    assert before <= decoded["iat"] <= after


def test_sign_keeps_an_iat_given_by_the_caller():
    decoded = pyjwt_decode(sign({"data": {}, "iat": 1_600_000_000}, SIGNATURE_SECRET))

    assert decoded["iat"] == 1_600_000_000


def test_sign_without_expires_in_sets_no_exp():
    assert "exp" not in pyjwt_decode(sign(PURCHASE, SIGNATURE_SECRET))


@pytest.mark.parametrize("expires_in", [600, 600.0, timedelta(minutes=10)])
def test_expires_in_sets_exp_relative_to_iat(expires_in):
    decoded = pyjwt_decode(sign(PURCHASE, SIGNATURE_SECRET, expires_in=expires_in))

    assert decoded["exp"] - decoded["iat"] == 600


def test_a_sub_second_expires_in_still_gives_a_valid_token():
    decoded = pyjwt_decode(sign(PURCHASE, SIGNATURE_SECRET, expires_in=0.2))

    assert decoded["exp"] - decoded["iat"] == 1


def test_an_exp_in_the_payload_is_honoured():
    exp = int(time.time()) + 3600
    assert pyjwt_decode(sign({"data": {}, "exp": exp}, SIGNATURE_SECRET))["exp"] == exp


def test_a_datetime_exp_in_the_payload_becomes_a_numeric_date():
    exp = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    decoded = pyjwt_decode(sign({"data": {}, "exp": exp}, SIGNATURE_SECRET))

    assert decoded["exp"] == int(exp.timestamp())


def test_an_expired_signed_token_is_refused_by_pyjwt():
    token = sign({"data": {}, "exp": int(time.time()) - 60}, SIGNATURE_SECRET)

    with pytest.raises(jwt.ExpiredSignatureError):
        pyjwt_decode(token)


def test_a_token_signed_with_one_secret_does_not_verify_with_another():
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(sign(PURCHASE, SIGNATURE_SECRET), OTHER_SECRET)


def test_sign_does_not_modify_the_callers_payload():
    payload = {"data": {"amountCents": 1}}
    sign(payload, SIGNATURE_SECRET, expires_in=60)

    assert payload == {"data": {"amountCents": 1}}


def test_payload_and_expires_in_exp_together_are_refused():
    with pytest.raises(SignatureError, match="exp"):
        sign({"data": {}, "exp": 2_000_000_000}, SIGNATURE_SECRET, expires_in=60)


@pytest.mark.parametrize("payload", [["data"], "data=1", None, 42, b"{}"])
def test_a_payload_that_is_not_a_mapping_is_refused(payload):
    with pytest.raises(SignatureError, match="mapping"):
        sign(payload, SIGNATURE_SECRET)


def test_non_string_top_level_keys_are_refused():
    with pytest.raises(SignatureError, match="key"):
        sign({1: "x"}, SIGNATURE_SECRET)


@pytest.mark.parametrize("secret", ["", None, b"bytes-secret-0123456789-abcdefghij"])
def test_an_empty_or_non_text_secret_is_a_configuration_error(secret):
    with pytest.raises(ConfigurationError, match="signature secret"):
        sign(PURCHASE, secret)


def test_a_secret_that_is_not_valid_text_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="signature secret"):
        sign(PURCHASE, "secret-\ud800-0123456789-abcdefghijklmnop")


@pytest.mark.parametrize("expires_in", [0, -5, float("inf"), float("nan"), True, "600"])
def test_a_nonsensical_expires_in_is_refused(expires_in):
    with pytest.raises(SignatureError, match="expires_in"):
        sign(PURCHASE, SIGNATURE_SECRET, expires_in=expires_in)


@pytest.mark.parametrize(
    "value", [object(), {1, 2}, float("nan"), float("inf"), b"bytes"], ids=repr
)
def test_a_value_json_cannot_carry_is_refused(value):
    with pytest.raises(SignatureError, match="JSON"):
        sign({"data": {"amount": value}}, SIGNATURE_SECRET)


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "tomorrow"},
        {"iat": True},
        {"nbf": float("inf")},
        {"iss": 1},
        {"sub": 2},
        {"jti": None},
        {"aud": 3},
        {"aud": ["ok", 4]},
    ],
    ids=repr,
)
def test_registered_claims_a_verifier_would_refuse_are_refused_at_signing(claims):
    with pytest.raises(SignatureError, match="cannot sign"):
        sign({"data": {}, **claims}, SIGNATURE_SECRET)


def test_signed_query_is_a_params_dict_with_the_signature():
    params = signed_query(PURCHASE, SIGNATURE_SECRET, expires_in=60)

    assert set(params) == {"signature"}
    assert pyjwt_decode(params["signature"])["data"] == PURCHASE["data"]


def test_signed_url_appends_the_signature():
    url = signed_url("https://provider.example/api/purchase_link/", PURCHASE, SIGNATURE_SECRET)

    parts = urlsplit(url)
    assert parts.path == "/api/purchase_link/"
    (token,) = parse_qs(parts.query)["signature"]
    assert pyjwt_decode(token)["data"] == PURCHASE["data"]


def test_signed_url_keeps_existing_query_parameters_byte_for_byte():
    url = signed_url("https://p.example/api/x?lang=fr&q=a%20b+c&flag", PURCHASE, SIGNATURE_SECRET)

    assert url.startswith("https://p.example/api/x?lang=fr&q=a%20b+c&flag&signature=")


def test_signed_url_replaces_an_existing_signature():
    url = signed_url("https://p.example/x?signature=old&a=1", PURCHASE, SIGNATURE_SECRET)

    query = parse_qs(urlsplit(url).query)
    assert query["a"] == ["1"]
    assert len(query["signature"]) == 1
    assert query["signature"] != ["old"]


def test_signed_url_keeps_the_fragment():
    assert urlsplit(signed_url("https://p.example/x#top", PURCHASE, SIGNATURE_SECRET)).fragment == (
        "top"
    )
