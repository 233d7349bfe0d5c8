"""Fixtures for the admin tests: known secrets, users with and without the check permission."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from django_apiauth import connectivity
from django_apiauth.connectivity import ConnectivityResult
from django_apiauth.models import ApiCredential

# Long and distinctive, so that finding one in a page cannot be a coincidence.
SECRETS = {
    "api_key": "adm_key_7Hq2Lp9Xw4Vt6Zs1",
    "api_secret": "adm_secret_Nd8Kf3Jr5Gm0Yc2Bw",
    "dashboard_password": "adm_dash_Qe4Ru7Ty1Ui3",
    "signature_secret": "adm_sig_Mz6Xn9Cb2Vl5Ka8",
}
SECRET_COLUMNS = tuple(SECRETS)


@pytest.fixture
def secrets():
    return dict(SECRETS)


@pytest.fixture
def credential(db):
    return ApiCredential.objects.create(
        name="shop-fr",
        environment="staging",
        dashboard_username="ops@shop.example",
        merchant_uid="mer_fr_001",
        **SECRETS,
    )


def raw_column(pk: int, column: str) -> str:
    """A column's stored text (the ciphertext), read with SQL."""
    table = connection.ops.quote_name(ApiCredential._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk]
        )
        return cursor.fetchone()[0]


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


STAGING = "https://staging.back.ecard.pledg.co"


@pytest.fixture
def provider():
    """The provider (``responses``, no network) at the staging URL, knowing ``SECRETS``.

    Any request to another URL fails with a ``ConnectionError``, so a check that
    went anywhere but the stored endpoint cannot pass.
    """
    from django_apiauth.testing import FakeProvider

    with FakeProvider(
        STAGING, api_key=SECRETS["api_key"], api_secret=SECRETS["api_secret"]
    ) as fake:
        yield fake
