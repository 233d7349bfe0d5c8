"""Property tests: the verifiers never fail in an unexpected way, and sign round-trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from django_apiauth.exceptions import SignatureError
from django_apiauth.notifications.verify import HASHED_FIELDS
from django_apiauth.signing import decode_notification, sign, verify_notification
from tests.helpers import provider_token
from tests.vectors import SIGNATURE_SECRET

# Modest example counts keep the suite fast; no deadline (timing is not a spec).
quick = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

REGISTERED_CLAIMS = {"exp", "iat", "nbf", "aud", "iss", "sub", "jti"}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
anything = json_values | st.binary() | st.sets(st.integers(), max_size=3) | st.builds(object)

# Secrets as the provider would hand them: text, at least 32 bytes (PyJWT's advice).
secrets = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=32, max_size=64)


@st.composite
def notifications(draw):
    """Mostly well-formed hash notifications with arbitrary values, sometimes missing keys."""
    body = {key: draw(anything) for key in HASHED_FIELDS}
    for key in draw(st.sets(st.sampled_from(HASHED_FIELDS), max_size=2)):
        body.pop(key, None)
    body["signature"] = draw(
        anything | st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64)
    )
    body.update(draw(st.dictionaries(st.text(max_size=10), anything, max_size=3)))
    return body


@quick
@given(payload=anything | notifications(), secret=anything | st.text())
def test_verify_notification_only_ever_returns_a_bool(payload, secret):
    assert verify_notification(payload, secret) in (True, False)


@quick
@given(payload=notifications(), secret=secrets)
def test_a_notification_with_a_guessed_signature_does_not_verify(payload, secret):
    assert verify_notification(payload, secret) is False


@quick
@given(
    token=anything | st.text() | st.text(alphabet="abcdefghijklmnopqrstuvwxyzAB-_.=", min_size=3),
    secret=anything | secrets,
)
def test_decode_notification_raises_only_signature_error(token, secret):
    try:
        result = decode_notification(token, secret)
    except SignatureError:
        return
    # Only a genuinely signed token could get here; arbitrary input never is one.
    raise AssertionError(f"accepted arbitrary input as a notification: {result!r}")


#: Keys a notification never has: registered claims (checked, not free) and the
#: merchant-request wrappers (refused as not a notification).
NOT_FREE_KEYS = REGISTERED_CLAIMS | {"data", "purchase_link_settings"}


@st.composite
def signable_payloads(draw):
    """Flat payloads, the shape of the provider's transfer notifications."""
    claims = draw(
        st.dictionaries(
            st.text(max_size=12).filter(lambda key: key not in NOT_FREE_KEYS),
            json_values,
            max_size=5,
        )
    )
    return {"reference": draw(json_values), **claims}


@quick
@given(payload=signable_payloads(), data=json_values, secret=secrets)
def test_a_merchant_shaped_token_never_decodes_as_a_notification(payload, data, secret):
    try:
        decode_notification(sign({**payload, "data": data}, secret), secret)
    except SignatureError:
        return
    raise AssertionError("a token with a 'data' wrapper was accepted as a notification")


def same_json(a, b) -> bool:
    # 0.0 == -0.0 and 1 == 1.0 in Python, which is what JSON promises too.
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@quick
@given(payload=signable_payloads(), secret=secrets)
def test_a_token_sign_made_never_decodes_as_a_notification(payload, secret):
    with pytest.raises(SignatureError, match="signed by this site"):
        decode_notification(sign(payload, secret), secret)


@quick
@given(payload=signable_payloads(), secret=secrets)
def test_a_provider_token_round_trips(payload, secret):
    decoded = decode_notification(provider_token(payload, secret), secret)

    assert isinstance(decoded.pop("iat"), int)
    assert decoded == payload


@quick
@given(
    payload=signable_payloads(), position=st.integers(min_value=0), char=st.sampled_from("AQgw_-.x")
)
def test_a_changed_character_is_refused_or_changes_nothing(payload, position, char):
    token = provider_token(payload, SIGNATURE_SECRET)
    position %= len(token)
    assume(token[position] != char)
    tampered = token[:position] + char + token[position + 1 :]

    try:
        decoded = decode_notification(tampered, SIGNATURE_SECRET)
    except SignatureError:
        return
    # Base64url's last character has unused bits: flipping them decodes to the same bytes.
    decoded.pop("iat")
    assert decoded == payload
