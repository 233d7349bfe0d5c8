"""Fixtures for the admin tests: users with and without the check permission, fake checks.

The credential (``staging_credential``) and its provider (``staging_provider``)
are the root conftest's.
"""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Permission

from django_apiauth import connectivity
from django_apiauth.connectivity import ConnectivityResult
from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS, raw_column

SECRET_COLUMNS = tuple(SECRETS)


def forbidden_strings(credential: ApiCredential, secrets: dict[str, str]) -> dict[str, str]:
    """Everything that must never appear in a page, command output or log line.

    The secrets, their ciphertexts (whole and the Fernet token alone) and the
    Basic header value the token request would send.
    """
    forbidden = {f"plaintext {name}": value for name, value in secrets.items()}
    for column in SECRET_COLUMNS:
        stored = raw_column(credential.pk, column)
        if stored:
            forbidden[f"ciphertext {column}"] = stored
            forbidden[f"fernet token {column}"] = stored.split(":", 2)[2]
    basic = f"{secrets['api_key']}:{secrets['api_secret']}".encode()
    forbidden["basic header"] = base64.b64encode(basic).decode()
    return forbidden


def assert_no_secret(text: str, forbidden: dict[str, str]) -> None:
    leaked = [what for what, value in forbidden.items() if value and value in text]
    assert not leaked, f"leaked: {leaked}"


@pytest.fixture
def staff_user(db, django_user_model):
    """Staff who may view and change credentials but not test connectivity."""
    user = django_user_model.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="django_apiauth",
            codename__in=["view_apicredential", "change_apicredential"],
        )
    )
    return user


def grant(user, *codenames: str) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="django_apiauth", codename__in=codenames)
    )


@pytest.fixture
def secrets_client(client, staff_user):
    """Staff who may also replace secrets (and so add credentials and move endpoints)."""
    grant(staff_user, "replace_secrets", "add_apicredential")
    client.force_login(staff_user)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def tester_client(client, staff_user):
    """Staff who may also test connectivity."""
    staff_user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="django_apiauth", codename="test_connectivity"
        )
    )
    client.force_login(staff_user)
    return client


class FakeChecks:
    """Stands in for the provider: records who was checked and answers per name."""

    def __init__(self) -> None:
        self.checked: list[ApiCredential] = []
        self.failing: dict[str, str] = {}

    def __call__(self, credential: ApiCredential) -> ConnectivityResult:
        self.checked.append(credential)
        if credential.name in self.failing:
            return ConnectivityResult(
                name=credential.name,
                pk=credential.pk,
                ok=False,
                method="token",
                status_code=401,
                latency_ms=12.0,
                detail=self.failing[credential.name],
            )
        return ConnectivityResult(
            name=credential.name,
            pk=credential.pk,
            ok=True,
            method="token",
            status_code=200,
            latency_ms=42.0,
            detail="",
        )


@pytest.fixture
def fake_checks(monkeypatch):
    """Replace the network check of one credential (the pool and storage stay real)."""
    fake = FakeChecks()
    monkeypatch.setattr(connectivity, "check_credential", fake)
    return fake
