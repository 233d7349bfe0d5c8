"""``manage.py apiauth_status``: a monitoring probe with no secret in its output."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_apiauth.client import get_client
from django_apiauth.connectivity import check_credentials

pytestmark = pytest.mark.django_db


def status(*args):
    out = StringIO()
    try:
        call_command("apiauth_status", *args, stdout=out)
    except CommandError as err:
        return err.returncode, out.getvalue(), str(err)
    return 0, out.getvalue(), ""


@pytest.fixture
def shop(fake_provider):
    return fake_provider.create_credential(
        name="shop", signature_secret=fake_provider.signature_secret
    )


def secrets_of(provider):
    return [
        provider.api_key,
        provider.api_secret,
        provider.dashboard_password,
        provider.signature_secret,
        *provider.issued_tokens,
    ]


def test_a_healthy_credential_exits_zero_and_shows_its_token(fake_provider, shop):
    get_client("shop").access_token()
    check_credentials([shop])

    code, out, _ = status("--json")

    assert code == 0
    (entry,) = json.loads(out)
    assert entry["endpoint"] == "https://provider.test"
    assert entry["token"]["expires_in"] > 500
    assert entry["shared_token"]["age"] >= 0
    assert entry["block"] is None
    assert entry["last_check"]["ok"] is True
    assert not any(secret in out for secret in secrets_of(fake_provider))


def test_a_blocked_credential_exits_non_zero_without_a_secret(fake_provider, shop):
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    get_client("shop").check()

    code, out, message = status("shop")

    assert code == 1
    assert "blocked: invalid_client (HTTP 401)" in out
    assert "shop" in message
    for text in (out, message, status("shop", "--json")[1]):
        assert not any(secret in text for secret in secrets_of(fake_provider))


def test_a_failed_last_check_exits_non_zero(fake_provider, shop):
    shop.last_check_ok = False
    shop.last_check_at = shop.created_at
    shop.last_check_detail = "failed: the provider was down"
    shop.save()

    code, out, _ = status()

    assert code == 1
    assert "failed: the provider was down" in out


def test_notifications_of_the_last_day_are_counted_by_outcome(
    client, fake_provider, shop, settings
):
    from django_apiauth.models import NotificationDelivery

    for outcome in ("accepted", "accepted", "refused"):
        NotificationDelivery.objects.create(credential="shop", scheme="hash", outcome=outcome)

    code, out, _ = status("--json")

    assert json.loads(out)[0]["notifications_24h"] == {"accepted": 2, "refused": 1}
    assert "notifications in the last 24 h: accepted 2, refused 1" in status()[1]
