"""No admin page ever contains a secret, in clear or encrypted."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from .conftest import assert_no_secret, forbidden_strings

pytestmark = pytest.mark.django_db


@pytest.fixture
def forbidden(staging_credential, secrets):
    return forbidden_strings(staging_credential, secrets)


def page(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    return response.content.decode()


def test_change_list_shows_no_secret(admin_client, staging_credential, forbidden):
    html = page(admin_client, reverse("admin:django_apiauth_apicredential_changelist"))
    assert "shop-fr" in html
    assert_no_secret(html, forbidden)


def test_change_list_shows_the_api_key_masked_to_its_last_four(
    admin_client, staging_credential, secrets
):
    html = page(admin_client, reverse("admin:django_apiauth_apicredential_changelist"))
    assert "••••" + secrets["api_key"][-4:] in html


def test_change_page_shows_no_secret(admin_client, staging_credential, forbidden):
    html = page(
        admin_client,
        reverse("admin:django_apiauth_apicredential_change", args=[staging_credential.pk]),
    )
    assert 'name="api_secret"' in html
    assert_no_secret(html, forbidden)


def test_add_page_shows_no_secret(admin_client, staging_credential, forbidden):
    html = page(admin_client, reverse("admin:django_apiauth_apicredential_add"))
    assert_no_secret(html, forbidden)


def test_add_form_redisplayed_with_errors_does_not_echo_typed_secrets(admin_client, secrets):
    # The name is invalid, so the form comes back with what was typed.
    response = admin_client.post(
        reverse("admin:django_apiauth_apicredential_add"),
        {"name": "not a slug!", "environment": "staging", "is_active": "on", **secrets},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"]
    assert_no_secret(response.content.decode(), {k: v for k, v in secrets.items()})


def test_change_form_redisplayed_with_errors_does_not_echo_typed_secrets(
    admin_client, staging_credential
):
    typed = {"api_key": "typed_key_Wq8Er7Ty6", "api_secret": "typed_secret_Ui5Op4As3"}
    response = admin_client.post(
        reverse("admin:django_apiauth_apicredential_change", args=[staging_credential.pk]),
        {"name": "shop-fr", "environment": "nowhere", "is_active": "on", **typed},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["environment"]
    assert_no_secret(response.content.decode(), typed)


def test_history_page_shows_no_secret(admin_client, staging_credential, forbidden):
    # Produce a history entry that changed every secret, then read the history.
    admin_client.post(
        reverse("admin:django_apiauth_apicredential_change", args=[staging_credential.pk]),
        {
            "name": "shop-fr",
            "environment": "staging",
            "is_active": "on",
            "api_key": "adm_key_rotated_Pp0Oo9Ii8",
            "api_secret": "adm_secret_rotated_Ll7Kk6Jj5",
        },
    )
    forbidden.update(
        {"new key": "adm_key_rotated_Pp0Oo9Ii8", "new secret": "adm_secret_rotated_Ll7Kk6Jj5"}
    )
    html = page(
        admin_client,
        reverse("admin:django_apiauth_apicredential_history", args=[staging_credential.pk]),
    )
    assert "Changed" in html
    assert_no_secret(html, forbidden)


def test_delete_confirmation_shows_no_secret(admin_client, staging_credential, forbidden):
    html = page(
        admin_client,
        reverse("admin:django_apiauth_apicredential_delete", args=[staging_credential.pk]),
    )
    assert "Are you sure" in html
    assert_no_secret(html, forbidden)


def test_action_confirmation_for_delete_shows_no_secret(
    admin_client, staging_credential, forbidden
):
    response = admin_client.post(
        reverse("admin:django_apiauth_apicredential_changelist"),
        {"action": "delete_selected", "_selected_action": [staging_credential.pk]},
    )
    assert response.status_code == 200
    assert_no_secret(response.content.decode(), forbidden)


@pytest.mark.parametrize("succeeds", [True, False], ids=["ok", "refused"])
def test_test_connectivity_result_page_shows_no_secret(
    admin_client, staging_credential, forbidden, staging_provider, succeeds
):
    if not succeeds:
        staging_provider.api_secret = "the-provider-now-expects-another-secret"
    response = admin_client.post(
        reverse("admin:django_apiauth_apicredential_changelist"),
        {"action": "test_connectivity", "_selected_action": [staging_credential.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert ("“shop-fr”: OK in" in html) is succeeds
    assert_no_secret(html, forbidden)
    assert_no_secret(html, {f"token {i}": t for i, t in enumerate(staging_provider.issued_tokens)})


def test_change_page_after_the_button_shows_no_secret(
    admin_client, staging_credential, forbidden, staging_provider
):
    url = reverse(
        "admin:django_apiauth_apicredential_test_connectivity", args=[staging_credential.pk]
    )
    html = admin_client.post(url, follow=True).content.decode()
    assert "“shop-fr”: OK in" in html
    assert_no_secret(html, forbidden)


def test_checks_log_no_secret_even_at_debug(
    admin_client, staging_credential, forbidden, staging_provider, caplog
):
    caplog.set_level(logging.DEBUG)  # root: django_apiauth, urllib3, requests, django
    staging_provider.fail_token_requests(1, status=503)  # a retry and a failure path, too
    admin_client.post(
        reverse("admin:django_apiauth_apicredential_changelist"),
        {"action": "test_connectivity", "_selected_action": [staging_credential.pk]},
    )
    assert staging_provider.token_requests >= 2
    tokens = {f"token {i}": t for i, t in enumerate(staging_provider.issued_tokens)}
    assert_no_secret(caplog.text, {**forbidden, **tokens})


@pytest.fixture
def viewer_client(client, django_user_model):
    """Staff who may only view credentials."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="django_apiauth", codename="view_apicredential"
        )
    )
    client.force_login(user)
    return client


def test_view_only_change_page_shows_no_secret(
    viewer_client, staging_credential, forbidden, secrets
):
    # Django renders every field read-only with its value for a view-only user.
    html = page(
        viewer_client,
        reverse("admin:django_apiauth_apicredential_change", args=[staging_credential.pk]),
    )
    assert "View API credential" in html
    assert "••••" + secrets["api_key"][-4:] in html  # masked, as on the change list
    assert_no_secret(html, forbidden)
