"""The change list: columns, last-check badge, filters, search, undecryptable rows."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from django_apiauth.crypto import generate_key
from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_apiauth_apicredential_changelist"


def listed_names(client, **params):
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return [obj.name for obj in response.context["cl"].result_list]


def make(name, **fields):
    return ApiCredential.objects.create(
        name=name, api_key=f"{name}_key_0123456789", api_secret=f"{name}_secret", **fields
    )


def test_change_list_shows_environment_endpoint_and_active_flag(admin_client, staging_credential):
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "https://staging.back.ecard.pledg.co" in html
    assert "staging" in html
    assert 'alt="True"' in html  # the active icon


def test_badge_says_never_before_any_check(admin_client, staging_credential):
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "apiauth-badge-never" in html


def test_badge_shows_ok_with_time_and_latency(admin_client, staging_credential):
    ApiCredential.objects.filter(pk=staging_credential.pk).update(
        last_check_ok=True,
        last_check_at=datetime.datetime(2026, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
        last_check_detail="OK in 87 ms (token, HTTP 200)",
    )
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "apiauth-badge-ok" in html
    assert "OK in 87 ms" in html
    assert "2026" in html


def test_badge_shows_failure_with_its_cause(admin_client, staging_credential):
    ApiCredential.objects.filter(pk=staging_credential.pk).update(
        last_check_ok=False,
        last_check_at=datetime.datetime(2026, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
        last_check_detail="failed: invalid_client (token, HTTP 401, 80 ms)",
    )
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "apiauth-badge-failed" in html
    assert "invalid_client" in html


@pytest.mark.parametrize(
    ("value", "expected"), [("ok", ["a-ok"]), ("failed", ["b-failed"]), ("never", ["c-never"])]
)
def test_filter_on_last_check_result(admin_client, value, expected):
    make("a-ok", last_check_ok=True)
    make("b-failed", last_check_ok=False)
    make("c-never")
    assert listed_names(admin_client, last_check=value) == expected


def test_filter_on_environment(admin_client):
    make("a-staging", environment="staging")
    make("b-production", environment="production")
    assert listed_names(admin_client, environment="production") == ["b-production"]


def test_filter_on_active(admin_client):
    make("a-active")
    make("b-inactive", is_active=False)
    assert listed_names(admin_client, is_active__exact="0") == ["b-inactive"]


def test_search_by_name(admin_client):
    make("shop-fr")
    make("shop-de")
    assert listed_names(admin_client, q="de") == ["shop-de"]


def test_search_by_merchant_uid(admin_client):
    make("shop-fr", merchant_uid="mer_111")
    make("shop-de", merchant_uid="mer_222")
    assert listed_names(admin_client, q="mer_222") == ["shop-de"]


def test_search_for_a_secret_finds_nothing_and_does_not_fail(admin_client, staging_credential):
    assert listed_names(admin_client, q=SECRETS["api_key"]) == []


@pytest.fixture
def undecryptable(staging_credential, settings):
    """``credential`` written under a key that is no longer in the ring."""
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [generate_key()]}
    return staging_credential


def test_undecryptable_row_is_flagged_and_the_others_still_show(admin_client, undecryptable):
    readable = make("shop-ok")
    response = admin_client.get(reverse(CHANGELIST))
    html = response.content.decode()
    assert response.status_code == 200
    assert "secrets cannot be decrypted" in html
    assert readable.masked_api_key() in html
    assert [obj.name for obj in response.context["cl"].result_list] == ["shop-fr", "shop-ok"]


def test_undecryptable_row_change_page_opens_and_says_so(admin_client, undecryptable):
    url = reverse("admin:django_apiauth_apicredential_change", args=[undecryptable.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    help_text = response.context["adminform"].form.fields["api_key"].help_text
    assert "cannot be decrypted" in help_text


def test_undecryptable_row_is_repaired_by_typing_new_secrets(admin_client, undecryptable):
    url = reverse("admin:django_apiauth_apicredential_change", args=[undecryptable.pk])
    response = admin_client.post(
        url,
        {
            "name": "shop-fr",
            "environment": "staging",
            "is_active": "on",
            "api_key": "repaired_key_0123456789",
            "api_secret": "repaired_secret",
            "clear_dashboard_password": "on",
            "clear_signature_secret": "on",
        },
    )
    assert response.status_code == 302
    repaired = ApiCredential.objects.get(pk=undecryptable.pk)
    assert repaired.has_readable_secrets()
    assert repaired.api_key == "repaired_key_0123456789"


def test_unknown_environment_is_flagged_without_breaking_the_page(admin_client, settings):
    moon = {"moon": "https://moon.example"}
    settings.APIAUTH = {**settings.APIAUTH, "ENVIRONMENTS": moon}
    make("shop-moon", environment="moon")
    del settings.APIAUTH["ENVIRONMENTS"]  # an environment removed from settings
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "unknown environment &#x27;moon&#x27;" in html


def test_a_base_url_override_is_shown_as_custom_with_its_host(admin_client, apiauth):
    apiauth(ALLOWED_HOSTS=["api.shop.example"])
    make("shop-custom", environment="staging", base_url="https://api.shop.example")
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    row = html[html.index("shop-custom") :].split("</tr>")[0]
    assert "custom (api.shop.example)" in row
    assert ">staging<" not in row


def test_the_test_connectivity_button_is_an_object_tool_styled_like_djangos(
    admin_client, staging_credential
):
    url = reverse("admin:django_apiauth_apicredential_change", args=[staging_credential.pk])
    html = admin_client.get(url).content.decode()
    tools = html[html.index('<ul class="object-tools">') :].split("</ul>")[0]
    button = tools.split("apiauth-test-connectivity")[1].split("</li>")[0]
    assert "<button" in button and 'class="historylink"' not in button
    # Django styles only the tools' links: the button gets the same rules and variables.
    assert ".object-tools .apiauth-test-connectivity button" in html
    assert "var(--object-tools-bg)" in html and "var(--object-tools-hover-bg)" in html
