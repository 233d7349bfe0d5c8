"""The "Test connectivity" action and the change page's button (against the fake provider)."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from django_apiauth.crypto import generate_key
from django_apiauth.models import ApiCredential

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_apiauth_apicredential_changelist"
OK_MESSAGE = re.compile(r"“shop-fr”: OK in \d+ ms \(HTTP 200, token valid for 600s\)")


def run_action(client, *credentials, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": "test_connectivity", "_selected_action": [c.pk for c in credentials], **extra},
    )


def button_url(credential):
    return reverse("admin:django_apiauth_apicredential_test_connectivity", args=[credential.pk])


def change_url(credential):
    return reverse("admin:django_apiauth_apicredential_change", args=[credential.pk])


def messages_of(response):
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def wrong_secret(db):
    """A credential the provider refuses (its secret is not the provider's)."""
    return ApiCredential.objects.create(
        name="shop-de", api_key="de_key_0123456789", api_secret="not-the-secret"
    )


def test_action_is_labelled_test_connectivity(admin_client, staging_credential):
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert '<option value="test_connectivity">Test connectivity</option>' in html


def test_action_is_not_offered_without_the_permission(staff_client, staff_user, staging_credential):
    staff_user.user_permissions.add(Permission.objects.get(codename="delete_apicredential"))
    html = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="delete_selected"' in html  # the action menu is there...
    assert 'value="test_connectivity"' not in html  # ...without this action


def test_action_posted_without_the_permission_checks_nothing(
    staff_client, staging_credential, staging_provider
):
    run_action(staff_client, staging_credential)
    assert staging_provider.token_requests == 0
    assert ApiCredential.objects.get(pk=staging_credential.pk).last_check_at is None


def test_action_with_the_permission_checks_the_selected_credentials(
    tester_client, staging_credential, wrong_secret, staging_provider
):
    run_action(tester_client, staging_credential, wrong_secret)
    assert staging_provider.token_requests == 2


def test_action_reports_success_with_latency(admin_client, staging_credential, staging_provider):
    ((level, text),) = messages_of(run_action(admin_client, staging_credential))
    assert level == "success"
    assert OK_MESSAGE.fullmatch(text), text


def test_action_reports_the_failure_cause(admin_client, wrong_secret, staging_provider):
    ((level, text),) = messages_of(run_action(admin_client, wrong_secret))
    assert level == "error"
    assert text.startswith("“shop-de”: failed: the provider refused the API key and secret")
    assert "invalid_client" in text


def test_action_reports_one_message_per_credential(
    admin_client, staging_credential, wrong_secret, staging_provider
):
    response = run_action(admin_client, staging_credential, wrong_secret)
    assert sorted(level for level, _ in messages_of(response)) == ["error", "success"]


def test_action_stores_the_results(
    admin_client, staging_credential, wrong_secret, staging_provider
):
    run_action(admin_client, staging_credential, wrong_secret)
    fr, de = ApiCredential.objects.get(name="shop-fr"), ApiCredential.objects.get(name="shop-de")
    assert (fr.last_check_ok, de.last_check_ok) == (True, False)
    assert fr.last_check_at is not None
    assert "invalid_client" in de.last_check_detail


def test_action_result_shows_the_ok_badge(admin_client, staging_credential, staging_provider):
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "test_connectivity", "_selected_action": [staging_credential.pk]},
        follow=True,
    )
    assert "apiauth-badge-ok" in response.content.decode()


def test_action_writes_an_admin_log_entry_per_credential(
    admin_client, staging_credential, staging_provider
):
    run_action(admin_client, staging_credential)
    entry = LogEntry.objects.get(object_id=str(staging_credential.pk))
    assert entry.get_change_message().startswith("Tested connectivity: OK in ")


def test_action_checks_the_stored_credential_only(
    admin_client, staging_credential, staging_provider
):
    # Form data a forged request could add never reaches the check: the stored
    # key and secret go to the stored endpoint (the only URL the fake answers).
    run_action(
        admin_client,
        staging_credential,
        base_url="https://attacker.example",
        api_key="forged",
        api_secret="forged",
    )
    assert staging_provider.tokens_issued == 1
    assert ApiCredential.objects.get(pk=staging_credential.pk).last_check_ok is True


def test_change_page_has_the_button_for_permitted_users(tester_client, staging_credential):
    html = tester_client.get(change_url(staging_credential)).content.decode()
    assert f'action="{button_url(staging_credential)}"' in html
    assert "Test connectivity" in html


def test_change_page_has_no_button_without_the_permission(staff_client, staging_credential):
    html = staff_client.get(change_url(staging_credential)).content.decode()
    assert button_url(staging_credential) not in html


def test_button_checks_one_credential_and_returns_to_its_page(
    tester_client, staging_credential, wrong_secret, staging_provider
):
    response = tester_client.post(button_url(staging_credential))
    assert response.status_code == 302
    assert response["Location"] == change_url(staging_credential)
    assert staging_provider.token_requests == 1
    ((level, text),) = messages_of(response)
    assert level == "success"
    assert OK_MESSAGE.fullmatch(text), text
    assert ApiCredential.objects.get(pk=staging_credential.pk).last_check_ok is True


def test_button_writes_an_admin_log_entry(tester_client, staging_credential, staging_provider):
    tester_client.post(button_url(staging_credential))
    assert LogEntry.objects.filter(object_id=str(staging_credential.pk)).count() == 1


def test_button_ignores_posted_credentials(tester_client, staging_credential, staging_provider):
    tester_client.post(
        button_url(staging_credential),
        {"base_url": "https://attacker.example", "api_key": "forged", "api_secret": "forged"},
    )
    assert staging_provider.tokens_issued == 1


def test_button_is_forbidden_without_the_permission(
    staff_client, staging_credential, staging_provider
):
    response = staff_client.post(button_url(staging_credential))
    assert response.status_code == 403
    assert staging_provider.token_requests == 0


def test_button_refuses_get(tester_client, staging_credential, staging_provider):
    response = tester_client.get(button_url(staging_credential))
    assert response.status_code == 405
    assert staging_provider.token_requests == 0


def test_button_requires_a_csrf_token(staging_credential, staff_user, staging_provider):
    staff_user.user_permissions.add(Permission.objects.get(codename="test_connectivity"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = client.post(button_url(staging_credential))
    assert response.status_code == 403
    assert staging_provider.token_requests == 0


def test_button_for_a_missing_credential_redirects_with_a_warning(tester_client, staging_provider):
    url = reverse("admin:django_apiauth_apicredential_test_connectivity", args=[999])
    response = tester_client.post(url)
    assert response.status_code == 302
    assert staging_provider.token_requests == 0


def test_an_undecryptable_credential_is_reported_without_contacting_anyone(
    admin_client, staging_credential, settings, staging_provider
):
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [generate_key()]}
    response = run_action(admin_client, staging_credential)
    assert staging_provider.token_requests == 0
    ((level, text),) = messages_of(response)
    assert level == "error"
    assert "cannot be decrypted" in text


def test_button_is_forbidden_to_a_tester_who_may_not_view_credentials(
    client, django_user_model, staging_credential, staging_provider
):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("t", "t@example.com", "pw", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="django_apiauth", codename="test_connectivity"
        )
    )
    client.force_login(user)
    response = client.post(button_url(staging_credential))
    assert response.status_code == 403
    assert staging_provider.token_requests == 0
