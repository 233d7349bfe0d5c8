"""Issue 10, items 1 and 8 from the admin and the command line.

No staff user can redirect stored secrets to another host, and
"Test connectivity" is no port scanner.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from django_apiauth.connectivity import check_credentials
from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS, raw_column

ATTACKER = "https://attacker.example"


def change(client, credential, **data):
    url = reverse("admin:django_apiauth_apicredential_change", args=[credential.pk])
    post = {"name": credential.name, "environment": "staging", "is_active": "on", **data}
    return client.post(url, post)


def stored(credential):
    return {name: raw_column(credential.pk, name) for name in SECRETS}


def test_no_staff_user_can_point_kept_secrets_at_another_host(
    secrets_client, staging_credential, attacker_allowed
):
    # Even with "replace secrets": moving the endpoint means typing every secret again.
    before = stored(staging_credential)
    response = change(secrets_client, staging_credential, base_url=ATTACKER)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == set(SECRETS)
    assert "enter this secret again" in errors["api_secret"][0]
    assert stored(staging_credential) == before
    assert ApiCredential.objects.get(pk=staging_credential.pk).base_url == ""


def test_the_endpoint_changes_when_the_secrets_are_typed_again(
    secrets_client, staging_credential, attacker_allowed
):
    new = {name: f"{value}-new" for name, value in SECRETS.items()}
    response = change(secrets_client, staging_credential, base_url=ATTACKER, **new)
    assert response.status_code == 302
    saved = ApiCredential.objects.get(pk=staging_credential.pk)
    assert saved.endpoint == ATTACKER and saved.api_secret == new["api_secret"]


def test_a_host_outside_allowed_hosts_is_refused_on_the_form(secrets_client, staging_credential):
    response = change(secrets_client, staging_credential, base_url=ATTACKER, **SECRETS)
    assert "ALLOWED_HOSTS" in response.context["adminform"].form.errors["base_url"][0]


def test_the_command_refuses_a_new_endpoint_without_the_secrets(
    staging_credential, attacker_allowed
):
    before = stored(staging_credential)
    with pytest.raises(CommandError) as caught:
        call_command(
            "apiauth_credential",
            "set",
            staging_credential.name,
            "--base-url",
            ATTACKER,
            "--no-input",
        )
    message = str(caught.value)
    assert "$APIAUTH_API_KEY" in message and "$APIAUTH_SIGNATURE_SECRET" in message
    assert "Nothing was changed" in message
    assert stored(staging_credential) == before


def test_the_command_moves_the_endpoint_with_secrets_from_the_environment(
    staging_credential, attacker_allowed, monkeypatch
):
    env = {
        "APIAUTH_API_KEY": "cli-key-0123456789",
        "APIAUTH_API_SECRET": "cli-secret-0123456789",
        "APIAUTH_DASHBOARD_PASSWORD": "cli-dash-0123456789",
        "APIAUTH_SIGNATURE_SECRET": "cli-sig-0123456789",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    call_command(
        "apiauth_credential",
        "set",
        staging_credential.name,
        "--base-url",
        ATTACKER,
        "--no-input",
        stdout=StringIO(),
    )
    saved = ApiCredential.objects.get(pk=staging_credential.pk)
    assert saved.endpoint == ATTACKER and saved.api_secret == "cli-secret-0123456789"


def test_the_command_refuses_a_host_outside_allowed_hosts(staging_credential):
    with pytest.raises(CommandError, match="ALLOWED_HOSTS"):
        call_command(
            "apiauth_credential",
            "set",
            staging_credential.name,
            "--base-url",
            ATTACKER,
            "--no-input",
        )


# ------------------------------------------------------ item 8: not a port scanner


def test_a_check_never_reaches_a_host_outside_allowed_hosts(db, settings):
    # Saved while the settings allowed the host (secrets bound to it), then refused.
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": ["attacker.example:22"]}
    credential = ApiCredential.objects.create(name="probe", base_url=f"{ATTACKER}:22", **SECRETS)
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": None}
    (result,) = check_credentials([ApiCredential.objects.get(pk=credential.pk)])
    assert not result.ok
    assert "not in APIAUTH['ALLOWED_HOSTS']" in result.detail


def test_a_check_does_not_describe_what_answered(staging_provider, staging_credential):
    staging_provider.fail_token_requests(
        status=200, body="<html>" + "x" * 1234, content_type="text/html"
    )
    (result,) = check_credentials([staging_credential])
    assert not result.ok
    assert "html" not in result.summary and "1240" not in result.summary
    assert "bytes" not in result.summary
