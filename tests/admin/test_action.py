"""The "Test connectivity" action and the change page's button."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from django_apiauth.models import ApiCredential

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_apiauth_apicredential_changelist"


def run_action(client, *credentials):
    return client.post(
        reverse(CHANGELIST),
        {"action": "test_connectivity", "_selected_action": [c.pk for c in credentials]},
    )


def button_url(credential):
    return reverse("admin:django_apiauth_apicredential_test_connectivity", args=[credential.pk])


def messages_of(response):
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def second(db):
    return ApiCredential.objects.create(
        name="shop-de", api_key="de_key_0123456789", api_secret="de_secret"
    )


def test_action_is_labelled_test_connectivity(admin_client, credential):
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert '<option value="test_connectivity">Test connectivity</option>' in html


def test_action_is_not_offered_without_the_permission(staff_client, credential):
    html = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert "test_connectivity" not in html


def test_action_posted_without_the_permission_checks_nothing(staff_client, credential, fake_checks):
    run_action(staff_client, credential)
    assert fake_checks.checked == []
    assert ApiCredential.objects.get(pk=credential.pk).last_check_at is None


def test_action_with_the_permission_checks_the_selected_credentials(
    tester_client, credential, second, fake_checks
):
    run_action(tester_client, credential, second)
    assert sorted(c.name for c in fake_checks.checked) == ["shop-de", "shop-fr"]


def test_action_reports_one_message_per_credential(admin_client, credential, second, fake_checks):
    fake_checks.failing["shop-de"] = "invalid_client: the provider refused the API key"
    response = run_action(admin_client, credential, second)
    assert sorted(messages_of(response)) == [
        (
            "error",
            "“shop-de”: failed: invalid_client: the provider refused the API key "
            "(token, HTTP 401, 12 ms)",
        ),
        ("success", "“shop-fr”: OK in 42 ms (token, HTTP 200)"),
    ]


def test_action_stores_the_results(admin_client, credential, second, fake_checks):
    fake_checks.failing["shop-de"] = "invalid_client"
    run_action(admin_client, credential, second)
    fr, de = ApiCredential.objects.get(name="shop-fr"), ApiCredential.objects.get(name="shop-de")
    assert (fr.last_check_ok, de.last_check_ok) == (True, False)
    assert fr.last_check_at is not None
    assert de.last_check_detail.startswith("failed: invalid_client")


def test_action_writes_an_admin_log_entry_per_credential(admin_client, credential, fake_checks):
    run_action(admin_client, credential)
    entry = LogEntry.objects.get(object_id=str(credential.pk))
    assert entry.get_change_message() == "Tested connectivity: OK in 42 ms (token, HTTP 200)"


def test_action_checks_the_stored_credential_only(admin_client, credential, fake_checks):
    # Extra form data (as a forged request could send) never reaches the check.
    admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "test_connectivity",
            "_selected_action": [credential.pk],
            "base_url": "https://attacker.example",
            "api_key": "forged",
        },
    )
    (checked,) = fake_checks.checked
    assert checked.endpoint == "https://staging.back.ecard.pledg.co"
    assert checked.api_key == credential.api_key


def test_change_page_has_the_button_for_permitted_users(tester_client, credential):
    url = reverse("admin:django_apiauth_apicredential_change", args=[credential.pk])
    html = tester_client.get(url).content.decode()
    assert f'action="{button_url(credential)}"' in html


def test_change_page_has_no_button_without_the_permission(staff_client, credential):
    url = reverse("admin:django_apiauth_apicredential_change", args=[credential.pk])
    html = staff_client.get(url).content.decode()
    assert "test-connectivity" not in html


def test_button_checks_one_credential_and_returns_to_its_page(
    tester_client, credential, second, fake_checks
):
    response = tester_client.post(button_url(credential))
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:django_apiauth_apicredential_change", args=[credential.pk]
    )
    assert [c.name for c in fake_checks.checked] == ["shop-fr"]
    assert messages_of(response) == [("success", "“shop-fr”: OK in 42 ms (token, HTTP 200)")]
    assert ApiCredential.objects.get(pk=credential.pk).last_check_ok is True


def test_button_ignores_posted_credentials(tester_client, credential, fake_checks):
    tester_client.post(
        button_url(credential), {"base_url": "https://attacker.example", "api_secret": "x"}
    )
    (checked,) = fake_checks.checked
    assert checked.endpoint == "https://staging.back.ecard.pledg.co"
    assert checked.api_secret == credential.api_secret


def test_button_is_forbidden_without_the_permission(staff_client, credential, fake_checks):
    response = staff_client.post(button_url(credential))
    assert response.status_code == 403
    assert fake_checks.checked == []


def test_button_refuses_get(tester_client, credential, fake_checks):
    response = tester_client.get(button_url(credential))
    assert response.status_code == 405
    assert fake_checks.checked == []


def test_button_requires_a_csrf_token(credential, staff_user, fake_checks):
    from django.contrib.auth.models import Permission
    from django.test import Client

    staff_user.user_permissions.add(Permission.objects.get(codename="test_connectivity"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = client.post(button_url(credential))
    assert response.status_code == 403
    assert fake_checks.checked == []


def test_button_for_a_missing_credential_redirects_with_a_warning(tester_client, fake_checks):
    url = reverse("admin:django_apiauth_apicredential_test_connectivity", args=[999])
    response = tester_client.post(url)
    assert response.status_code == 302
    assert fake_checks.checked == []


def test_an_undecryptable_credential_is_reported_without_contacting_anyone(
    admin_client, credential, settings, fake_checks
):
    from django_apiauth.crypto import generate_key

    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [generate_key()]}
    response = run_action(admin_client, credential)
    assert fake_checks.checked == []
    ((level, text),) = messages_of(response)
    assert level == "error"
    assert "cannot be decrypted" in text
