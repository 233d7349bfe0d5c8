"""``POST /api/purchase_link/?signature=<jwt>``: HS256 with the account's signature secret."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest

pytestmark = pytest.mark.live


def payload(account, **extra):
    return {
        "data": {
            "merchantUid": account.merchant_uid,
            "amountCents": 12000,
            "email": "buyer@example.com",
            "reference": "ORDER-42",
        },
        **extra,
    }


def post_link(sandbox, http, signature):
    return http.post(
        f"{sandbox.url}/api/purchase_link/", params={"signature": signature}, timeout=5
    )


def test_link_is_created_for_a_valid_signature(sandbox, http):
    account = sandbox.account
    token = jwt.encode(
        payload(account, purchase_link_settings={"lang": "fr"}),
        account.signature_secret,
        algorithm="HS256",
    )
    answer = post_link(sandbox, http, token)
    assert answer.status_code == 201
    body = answer.json()
    assert (body["reference"], body["amount_cents"], body["settings"]) == (
        "ORDER-42",
        12000,
        {"lang": "fr"},
    )
    assert body["url"].startswith(f"{sandbox.url}/checkout/")
    assert sandbox.state.snapshot()["purchase_links"] == 1


def test_signature_without_merchant_uid_is_matched_by_secret(sandbox, http):
    other = sandbox.state.add_account()
    token = jwt.encode({"data": {"amountCents": 1}}, other.signature_secret, algorithm="HS256")
    answer = post_link(sandbox, http, token)
    assert answer.json()["merchant_uid"] == other.merchant_uid


def test_signature_made_by_django_apiauth_is_accepted(sandbox, http):
    signing = pytest.importorskip("django_apiauth.signing")
    account = sandbox.account
    token = signing.sign(payload(account), account.signature_secret, expires_in=60)
    assert post_link(sandbox, http, token).status_code == 201


def test_wrong_secret_is_refused(sandbox, http):
    token = jwt.encode(
        payload(sandbox.account), "not-the-secret-but-long-enough-for-hs256!", algorithm="HS256"
    )
    answer = post_link(sandbox, http, token)
    assert answer.status_code == 403
    assert answer.json()["error"] == "invalid_signature"


def test_expired_signature_is_refused(sandbox, http):
    account = sandbox.account
    expired = datetime.now(timezone.utc) - timedelta(seconds=5)
    token = jwt.encode(payload(account, exp=expired), account.signature_secret, algorithm="HS256")
    assert post_link(sandbox, http, token).status_code == 403


def test_unsigned_alg_none_is_refused(sandbox, http):
    token = jwt.encode(payload(sandbox.account), None, algorithm="none")
    assert post_link(sandbox, http, token).status_code == 403


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_algorithm_is_refused(sandbox, http):
    account = sandbox.account
    token = jwt.encode(payload(account), account.signature_secret, algorithm="HS512")
    assert post_link(sandbox, http, token).status_code == 403


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", ""])
def test_garbage_signature_is_refused(sandbox, http, garbage):
    assert post_link(sandbox, http, garbage).status_code in (400, 403)


def test_payload_without_data_is_invalid_request(sandbox, http):
    account = sandbox.account
    token = jwt.encode({"amountCents": 1}, account.signature_secret, algorithm="HS256")
    answer = post_link(sandbox, http, token)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_missing_signature_is_invalid_request(sandbox, http):
    answer = http.post(f"{sandbox.url}/api/purchase_link/", timeout=5)
    assert answer.status_code == 400
