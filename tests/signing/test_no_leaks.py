"""No secret, token, signature or payload in any log line or error message."""

from __future__ import annotations

import json
import logging

import pytest

from django_apiauth.exceptions import ApiAuthError
from django_apiauth.signing import (
    decode_notification,
    notification_digest,
    sign,
    verify_notification,
)
from tests.vectors import HASH_FIELDS, OTHER_SECRET, SIGNATURE_SECRET

pytestmark = pytest.mark.urls("tests.signing.urls")

PAYLOAD_MARKER = "payload-marker-7f3a9c"


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: every library, urllib3 and Django included
    return caplog


def assert_absent(text: str, *values: str) -> None:
    for value in values:
        assert value not in text


def error_text(err: BaseException) -> str:
    """The message of an error and of everything chained to it."""
    parts = []
    while err is not None:
        parts.append(str(err))
        err = err.__cause__ or err.__context__
    return "\n".join(parts)


def test_signing_failures_name_no_secret_and_no_payload(debug_logs):
    bad_calls = [
        lambda: sign({"data": {PAYLOAD_MARKER: object()}}, SIGNATURE_SECRET),
        lambda: sign({"data": PAYLOAD_MARKER, "exp": PAYLOAD_MARKER}, SIGNATURE_SECRET),
        lambda: sign({"data": PAYLOAD_MARKER}, SIGNATURE_SECRET, expires_in=PAYLOAD_MARKER),
        lambda: sign([PAYLOAD_MARKER], SIGNATURE_SECRET),
    ]
    for call in bad_calls:
        with pytest.raises(ApiAuthError) as caught:
            call()
        assert_absent(error_text(caught.value), SIGNATURE_SECRET, PAYLOAD_MARKER)
    assert_absent(debug_logs.text, SIGNATURE_SECRET, PAYLOAD_MARKER)


def test_decoding_failures_name_no_secret_and_no_token(debug_logs):
    token = sign({"data": PAYLOAD_MARKER}, SIGNATURE_SECRET)
    for candidate, secret in [
        (token, OTHER_SECRET),
        (token[:-4], SIGNATURE_SECRET),
        (token + "x", SIGNATURE_SECRET),
        (PAYLOAD_MARKER, SIGNATURE_SECRET),
    ]:
        with pytest.raises(ApiAuthError) as caught:
            decode_notification(candidate, secret)
        text = error_text(caught.value)
        assert_absent(text, SIGNATURE_SECRET, OTHER_SECRET, PAYLOAD_MARKER, *token.split("."))
    assert_absent(
        debug_logs.text, SIGNATURE_SECRET, OTHER_SECRET, PAYLOAD_MARKER, *token.split(".")
    )


def test_hash_verification_logs_nothing_secret(debug_logs):
    fields = {**HASH_FIELDS, "reference": PAYLOAD_MARKER}
    signature = notification_digest(fields, SIGNATURE_SECRET)
    for payload in [
        {**fields, "signature": signature, "status": [PAYLOAD_MARKER]},
        {**fields, "signature": signature},
        PAYLOAD_MARKER,
    ]:
        verify_notification(payload, SIGNATURE_SECRET)
        verify_notification(payload, OTHER_SECRET)

    assert_absent(debug_logs.text, SIGNATURE_SECRET, OTHER_SECRET, PAYLOAD_MARKER, signature)


@pytest.mark.django_db
def test_notification_views_log_no_secret_signature_or_payload(client, make_credential, debug_logs):
    make_credential("shop", signature_secret=SIGNATURE_SECRET)
    fields = {**HASH_FIELDS, "reference": PAYLOAD_MARKER}
    good = {**fields, "signature": notification_digest(fields, SIGNATURE_SECRET)}
    forged = {**fields, "signature": notification_digest(fields, OTHER_SECRET)}
    token = sign({"reference": PAYLOAD_MARKER}, OTHER_SECRET)
    bodies = [
        json.dumps(good),
        json.dumps({**good, "metadata": PAYLOAD_MARKER}),
        json.dumps(forged),
        json.dumps({"signature": token}),
        json.dumps({"signature": sign({"reference": PAYLOAD_MARKER}, SIGNATURE_SECRET)}),
        f'{{"reference": "{PAYLOAD_MARKER}", ',
    ]
    statuses = set()
    for body in bodies:
        for url in ("/recorded/", "/recorded-cbv/", "/unknown/"):
            response = client.post(url, data=body, content_type="application/json")
            statuses.add(response.status_code)
            assert_absent(response.content.decode(), SIGNATURE_SECRET, PAYLOAD_MARKER)

    assert statuses == {200, 400, 403}  # every path was taken
    assert "refused" in debug_logs.text  # and logged
    assert_absent(
        debug_logs.text,
        SIGNATURE_SECRET,
        OTHER_SECRET,
        PAYLOAD_MARKER,
        good["signature"],
        forged["signature"],
        *token.split("."),
    )
