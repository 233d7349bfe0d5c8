"""``verify_notification``: the hash scheme of payment notifications (PROVIDER.md)."""

from __future__ import annotations

import hashlib
from types import MappingProxyType

import pytest
from django.http import QueryDict

from django_apiauth.exceptions import SignatureError
from django_apiauth.notifications.verify import check_hash, render_hash_value
from django_apiauth.signing import notification_digest, verify_notification
from tests.vectors import HASH_FIELDS, HASH_NOTIFICATION, HASH_SECRET, HASH_SIGNATURE


def signed(fields: dict, secret: str = HASH_SECRET) -> dict:
    return {**fields, "signature": notification_digest(fields, secret)}


def test_the_provider_vector_verifies():
    assert verify_notification(HASH_NOTIFICATION, HASH_SECRET) is True


def test_the_digest_of_the_vector_is_the_providers_signature():
    assert notification_digest(HASH_FIELDS, HASH_SECRET) == HASH_SIGNATURE


def test_the_digest_is_sha256_of_sorted_key_value_pairs_joined_by_the_secret():
    # Spelled out independently of the implementation, from PROVIDER.md's wording.
    message = "SECRET".join(f"{key}={HASH_FIELDS[key]}" for key in sorted(HASH_FIELDS))

    assert hashlib.sha256(message.encode()).hexdigest().upper() == HASH_SIGNATURE


def test_a_lower_case_signature_is_refused_as_the_plugins_refuse_it():
    # All five merchant plugins compare the upper-case digest exactly (issue 19, item 7).
    notification = {**HASH_FIELDS, "signature": HASH_SIGNATURE.lower()}

    assert verify_notification(notification, HASH_SECRET) is False
    with pytest.raises(SignatureError, match="upper-case"):
        check_hash(notification, HASH_SECRET)


def test_a_mixed_case_signature_is_refused():
    notification = {**HASH_FIELDS, "signature": HASH_SIGNATURE[:32].lower() + HASH_SIGNATURE[32:]}

    assert verify_notification(notification, HASH_SECRET) is False


@pytest.mark.parametrize("key", sorted(HASH_FIELDS))
def test_a_tampered_field_does_not_verify(key):
    notification = {**HASH_NOTIFICATION, key: HASH_NOTIFICATION[key] + "x"}

    assert verify_notification(notification, HASH_SECRET) is False


def test_a_tampered_signature_does_not_verify():
    notification = {**HASH_NOTIFICATION, "signature": "0" + HASH_SIGNATURE[1:]}

    assert verify_notification(notification, HASH_SECRET) is False


def test_another_secret_does_not_verify():
    assert verify_notification(HASH_NOTIFICATION, "OTHER") is False


def test_extra_keys_do_not_change_the_result():
    notification = {
        **HASH_NOTIFICATION,
        "metadata": {"order": 42},
        "additional_data": {"x": [1, 2]},
        "something_new": "value",
    }

    assert verify_notification(notification, HASH_SECRET) is True


def test_extra_keys_cannot_make_a_bad_notification_verify():
    notification = {**HASH_NOTIFICATION, "status": "failed", "metadata": {"status": "completed"}}

    assert verify_notification(notification, HASH_SECRET) is False


@pytest.mark.parametrize("key", sorted(HASH_FIELDS))
def test_a_missing_field_does_not_verify(key):
    notification = {k: v for k, v in HASH_NOTIFICATION.items() if k != key}

    assert verify_notification(notification, HASH_SECRET) is False


def test_a_missing_signature_does_not_verify():
    assert verify_notification(dict(HASH_FIELDS), HASH_SECRET) is False


@pytest.mark.parametrize("signature", [None, 0, b"B1C7", ["B1C7"], "", "not hex", "é" * 64])
def test_a_malformed_signature_does_not_verify(signature):
    assert verify_notification({**HASH_FIELDS, "signature": signature}, HASH_SECRET) is False


@pytest.mark.parametrize("secret", ["", None, b"SECRET", 123])
def test_an_empty_or_non_text_secret_never_verifies(secret):
    assert verify_notification(HASH_NOTIFICATION, secret) is False


@pytest.mark.parametrize("payload", [None, "signature=x", ["signature"], 42, b"{}"])
def test_a_payload_that_is_not_a_mapping_does_not_verify(payload):
    assert verify_notification(payload, HASH_SECRET) is False


def test_any_mapping_type_is_accepted():
    assert verify_notification(MappingProxyType(HASH_NOTIFICATION), HASH_SECRET) is True


def test_a_form_querydict_verifies():
    form = QueryDict(mutable=True)
    form.update(HASH_NOTIFICATION)

    assert verify_notification(form, HASH_SECRET) is True


# Non-string values: the provider's plugins are the reference (see test_plugin_vectors.py).


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (True, "true"),
        (False, "false"),
        (None, ""),
        (0, "0"),
        (1086986786391, "1086986786391"),
        (-3, "-3"),
        ("true", "true"),
        ("", ""),
    ],
)
def test_values_render_as_the_sylius_and_oro_plugins_render_them(value, rendered):
    assert render_hash_value(value) == rendered


@pytest.mark.parametrize(("value", "rendered"), [(True, "1"), (False, ""), (None, ""), (7, "7")])
def test_php_booleans_render_as_php_concatenation_does(value, rendered):
    assert render_hash_value(value, php_booleans=True) == rendered


def test_a_python_style_true_is_not_the_providers_spelling():
    notification = {**HASH_NOTIFICATION, "sandbox": "True"}

    assert verify_notification(notification, HASH_SECRET) is False


def test_a_null_error_hashes_as_the_empty_string():
    notification = {**HASH_NOTIFICATION, "error": None}

    assert verify_notification(notification, HASH_SECRET) is True


def test_a_notification_signed_with_non_string_values_verifies():
    fields = {**HASH_FIELDS, "error": None, "sandbox": False, "id": 12345}

    assert verify_notification(signed(fields), HASH_SECRET) is True


@pytest.mark.parametrize(
    "value",
    [
        ["completed"],
        {"s": 1},
        1.5,
        7.0,
        float("nan"),
        float("inf"),
        2**63,
        -(2**63) - 1,
        b"completed",
        object(),
        "\ud800",
    ],
    ids=repr,
)
def test_values_the_plugins_disagree_on_never_verify(value):
    notification = {**HASH_NOTIFICATION, "status": value}

    assert verify_notification(notification, HASH_SECRET) is False
