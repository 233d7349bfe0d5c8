"""``decode_notification``: the JWT scheme of transfer notifications (PROVIDER.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from django_apiauth.exceptions import SignatureError
from django_apiauth.signing import decode_notification, sign
from tests.helpers import provider_token
from tests.vectors import JWT_PAYLOAD, JWT_SECRET, JWT_TOKEN, OTHER_SECRET, SIGNATURE_SECRET

short_provider_secret = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, payload: dict, secret: str = SIGNATURE_SECRET, digest=hashlib.sha256):
    """A token built by hand, to send headers PyJWT's encoder would not produce."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


@short_provider_secret
def test_the_provider_vector_decodes_to_its_payload():
    assert decode_notification(JWT_TOKEN, JWT_SECRET) == JWT_PAYLOAD


def test_pyjwt_warns_that_the_provider_vector_secret_is_short_but_still_verifies():
    # The secret is the provider's choice; the warning is PyJWT's honest advice and is kept.
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):
        assert decode_notification(JWT_TOKEN, JWT_SECRET) == JWT_PAYLOAD


def test_a_token_signed_with_another_secret_is_refused():
    with pytest.raises(SignatureError, match="does not match"):
        decode_notification(sign({"reference": "r"}, OTHER_SECRET), SIGNATURE_SECRET)


def test_alg_none_is_refused():
    unsigned = jwt.encode({"reference": "r"}, None, algorithm="none")

    with pytest.raises(SignatureError, match="HS256"):
        decode_notification(unsigned, SIGNATURE_SECRET)


def test_a_hand_made_alg_none_with_an_empty_signature_is_refused():
    header = b64(b'{"alg":"none","typ":"JWT"}')
    payload = b64(b'{"reference":"r"}')
    token = f"{header}.{payload}."

    with pytest.raises(SignatureError):
        decode_notification(token, SIGNATURE_SECRET)


def test_hs512_is_refused_even_with_the_right_secret():
    token = jwt.encode(
        {"reference": "r"}, SIGNATURE_SECRET + "-long-enough-for-hs512-" * 3, algorithm="HS512"
    )

    with pytest.raises(SignatureError, match="HS256"):
        decode_notification(token, SIGNATURE_SECRET + "-long-enough-for-hs512-" * 3)


def test_an_rs256_header_over_an_hmac_signature_is_refused():
    # The classic key-confusion attack: claim RS256, sign with the shared secret.
    token = forge({"alg": "RS256", "typ": "JWT"}, {"reference": "r"})

    with pytest.raises(SignatureError, match="HS256"):
        decode_notification(token, SIGNATURE_SECRET)


def test_an_hs256_header_with_an_hs512_signature_is_refused():
    token = forge({"alg": "HS256", "typ": "JWT"}, {"reference": "r"}, digest=hashlib.sha512)

    with pytest.raises(SignatureError, match="does not match"):
        decode_notification(token, SIGNATURE_SECRET)


def test_a_token_expired_beyond_the_leeway_is_refused():
    token = sign({"reference": "r", "exp": int(time.time()) - 120}, SIGNATURE_SECRET)

    with pytest.raises(SignatureError, match="expired"):
        decode_notification(token, SIGNATURE_SECRET)


def test_an_explicit_leeway_of_zero_refuses_a_token_expired_a_few_seconds_ago():
    token = sign({"reference": "r", "exp": int(time.time()) - 5}, SIGNATURE_SECRET)

    with pytest.raises(SignatureError, match="expired"):
        decode_notification(token, SIGNATURE_SECRET, leeway=0)


def test_a_token_not_valid_yet_is_refused():
    token = sign({"reference": "r", "nbf": int(time.time()) + 3600}, SIGNATURE_SECRET)

    with pytest.raises(SignatureError, match="not valid yet"):
        decode_notification(token, SIGNATURE_SECRET)


def test_a_token_with_a_future_exp_is_accepted():
    token = provider_token({"reference": "r"}, SIGNATURE_SECRET, expires_in=60)

    assert decode_notification(token, SIGNATURE_SECRET)["reference"] == "r"


@short_provider_secret
@pytest.mark.parametrize("cut", [1, 10, 44, len(JWT_TOKEN) // 2, len(JWT_TOKEN) - 1])
def test_a_truncated_token_is_refused(cut):
    with pytest.raises(SignatureError):
        decode_notification(JWT_TOKEN[:cut], JWT_SECRET)


@short_provider_secret
def test_a_token_without_its_signature_segment_is_refused():
    with pytest.raises(SignatureError):
        decode_notification(JWT_TOKEN.rsplit(".", 1)[0], JWT_SECRET)


@short_provider_secret
def test_a_token_with_a_tampered_payload_is_refused():
    header, _, signature = JWT_TOKEN.split(".")
    tampered = b64(json.dumps({**JWT_PAYLOAD, "amount_cents": 1}).encode())

    with pytest.raises(SignatureError, match="does not match"):
        decode_notification(f"{header}.{tampered}.{signature}", JWT_SECRET)


@pytest.mark.parametrize(
    "token",
    ["", "not a jwt", "a.b.c", "....", '{"signature": "x"}', "é.é.é", "\x00"],
)
def test_text_that_is_not_a_jwt_is_refused(token):
    with pytest.raises(SignatureError):
        decode_notification(token, SIGNATURE_SECRET)


def test_a_payload_that_is_not_a_json_object_is_refused():
    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    signing_input = f"{header}.{b64(b'[1, 2]')}"
    signature = hmac.new(SIGNATURE_SECRET.encode(), signing_input.encode(), hashlib.sha256)

    with pytest.raises(SignatureError):
        decode_notification(f"{signing_input}.{b64(signature.digest())}", SIGNATURE_SECRET)


@pytest.mark.parametrize("token", [None, 42, b"a.b.c", ["a.b.c"], {"signature": "x"}])
def test_a_token_that_is_not_a_string_is_refused(token):
    with pytest.raises(SignatureError, match="must be a string"):
        decode_notification(token, SIGNATURE_SECRET)


@pytest.mark.parametrize("secret", ["", None, b"secret"])
def test_an_empty_or_non_text_secret_refuses_everything(secret):
    # An empty HMAC key would accept tokens anyone can make.
    token = forge({"alg": "HS256", "typ": "JWT"}, {"reference": "r"}, secret="")

    with pytest.raises(SignatureError, match="no signature secret"):
        decode_notification(token, secret)


@short_provider_secret
def test_error_messages_never_contain_the_token_or_the_secret():
    header, payload, signature = JWT_TOKEN.split(".")
    attempts = [
        (JWT_TOKEN, OTHER_SECRET),
        (JWT_TOKEN[:-3], JWT_SECRET),
        (f"{header}.{payload}x.{signature}", JWT_SECRET),
        (f"{header}x.{payload}.{signature}", JWT_SECRET),
    ]
    for token, secret in attempts:
        with pytest.raises(SignatureError) as caught:
            decode_notification(token, secret)
        messages = [str(caught.value), str(caught.value.__cause__)]
        for text in messages:
            for fragment in (header, payload, signature, JWT_SECRET, OTHER_SECRET):
                assert fragment not in text
