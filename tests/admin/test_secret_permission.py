"""Issue 19, item 1: replacing a secret is its own permission, not "change credential".

A change-only staff user could set the signature secret (and forge payment
notifications) or the API key and secret (and move payments to an account of
theirs). Now only ``django_apiauth.replace_secrets`` may, and the server
ignores secret values posted by anyone else.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS, raw_column

from .conftest import grant

pytestmark = pytest.mark.django_db

CHANGED = {name: f"{value}-chosen-by-staff" for name, value in SECRETS.items()}


def change_url(credential):
    return reverse("admin:django_apiauth_apicredential_change", args=[credential.pk])


def post_change(client, credential, **data):
    post = {"name": credential.name, "environment": "staging", "is_active": "on", **data}
    return client.post(change_url(credential), post)


def stored(credential):
    return {name: raw_column(credential.pk, name) for name in SECRETS}


def test_the_permission_exists_with_its_codename():
    permission = Permission.objects.get(
        content_type__app_label="django_apiauth", codename="replace_secrets"
    )
    assert "replace secrets" in permission.name.lower()


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_a_change_only_user_cannot_replace_a_secret(staff_client, staging_credential, secret):
    before = stored(staging_credential)

    post_change(staff_client, staging_credential, **{secret: CHANGED[secret]})

    assert stored(staging_credential) == before
    assert getattr(ApiCredential.objects.get(pk=staging_credential.pk), secret) == SECRETS[secret]


def test_a_change_only_user_cannot_clear_a_secret(staff_client, staging_credential):
    post_change(staff_client, staging_credential, clear_signature_secret="on")

    assert ApiCredential.objects.get(pk=staging_credential.pk).signature_secret


def test_a_change_only_user_still_changes_the_other_fields(staff_client, staging_credential):
    response = post_change(staff_client, staging_credential, merchant_uid="mer_fr_009")

    assert response.status_code == 302
    assert ApiCredential.objects.get(pk=staging_credential.pk).merchant_uid == "mer_fr_009"


def test_a_change_only_user_sees_no_secret_input(staff_client, staging_credential):
    page = staff_client.get(change_url(staging_credential))

    form = page.context["adminform"].form
    assert not set(SECRETS) & set(form.fields)
    html = page.content.decode()
    assert 'name="signature_secret"' not in html
    assert "••••" in html  # the API key's state, masked


def test_a_change_only_user_cannot_move_the_endpoint(staff_client, staging_credential):
    post_change(staff_client, staging_credential, base_url="https://api.pledg.co", **CHANGED)

    assert ApiCredential.objects.get(pk=staging_credential.pk).base_url == ""


def test_a_change_only_user_cannot_add_a_credential(staff_user, client):
    grant(staff_user, "add_apicredential")
    client.force_login(staff_user)

    response = client.get(reverse("admin:django_apiauth_apicredential_add"))

    assert response.status_code == 403


def test_the_permission_lets_a_user_replace_a_secret(secrets_client, staging_credential):
    response = post_change(
        secrets_client, staging_credential, signature_secret=CHANGED["signature_secret"]
    )

    assert response.status_code == 302
    saved = ApiCredential.objects.get(pk=staging_credential.pk)
    assert saved.signature_secret == CHANGED["signature_secret"]
    assert saved.api_secret == SECRETS["api_secret"]
