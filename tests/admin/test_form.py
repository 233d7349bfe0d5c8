"""The add/change form: write-only secrets, blank keeps, explicit clearing, field errors."""

from __future__ import annotations

import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS

from .conftest import assert_no_secret

pytestmark = pytest.mark.django_db

BASE_POST = {"name": "shop-fr", "environment": "staging", "is_active": "on"}


def change_url(credential):
    return reverse("admin:django_apiauth_apicredential_change", args=[credential.pk])


def add_url():
    return reverse("admin:django_apiauth_apicredential_add")


def post_change(client, credential, **data):
    response = client.post(change_url(credential), {**BASE_POST, **data})
    assert response.status_code == 302, response.context["adminform"].form.errors
    return ApiCredential.objects.get(pk=credential.pk)


def form_errors(response):
    return response.context["adminform"].form.errors


def test_secret_inputs_are_password_inputs_without_a_value(admin_client, staging_credential):
    html = admin_client.get(change_url(staging_credential)).content.decode()
    for name in SECRETS:
        assert f'<input type="password" name="{name}"' in html
    assert "value=" not in html.split('name="api_secret"')[1].split(">")[0]


def test_blank_secret_inputs_keep_the_stored_values(admin_client, staging_credential, secrets):
    saved = post_change(admin_client, staging_credential, merchant_uid="mer_fr_002")
    assert saved.merchant_uid == "mer_fr_002"
    assert {name: getattr(saved, name) for name in SECRETS} == secrets


def test_typed_secret_replaces_only_that_secret(admin_client, staging_credential, secrets):
    saved = post_change(admin_client, staging_credential, api_secret="adm_secret_new_Rt5Yu6")
    assert saved.api_secret == "adm_secret_new_Rt5Yu6"
    assert saved.api_key == secrets["api_key"]


def test_clear_checkbox_empties_an_optional_secret(admin_client, staging_credential, secrets):
    saved = post_change(admin_client, staging_credential, clear_dashboard_password="on")
    assert saved.dashboard_password == ""
    assert saved.signature_secret == secrets["signature_secret"]


def test_clear_checkbox_empties_the_signature_secret(admin_client, staging_credential):
    saved = post_change(admin_client, staging_credential, clear_signature_secret="on")
    assert saved.signature_secret == ""


def test_clearing_and_typing_a_value_at_once_is_refused(admin_client, staging_credential, secrets):
    response = admin_client.post(
        change_url(staging_credential),
        {**BASE_POST, "clear_signature_secret": "on", "signature_secret": "adm_sig_other_Xx1"},
    )
    assert "signature_secret" in form_errors(response)
    assert (
        ApiCredential.objects.get(pk=staging_credential.pk).signature_secret
        == secrets["signature_secret"]
    )


def test_required_secrets_have_no_clear_checkbox(admin_client, staging_credential):
    form = admin_client.get(change_url(staging_credential)).context["adminform"].form
    assert "clear_dashboard_password" in form.fields
    assert "clear_api_key" not in form.fields
    assert "clear_api_secret" not in form.fields


def test_help_text_says_a_value_is_set(admin_client, staging_credential):
    form = admin_client.get(change_url(staging_credential)).context["adminform"].form
    assert "A value is set" in form.fields["api_secret"].help_text


def test_help_text_says_no_value_is_set(admin_client, staging_credential):
    ApiCredential.objects.filter(pk=staging_credential.pk).update(signature_secret="")
    form = admin_client.get(change_url(staging_credential)).context["adminform"].form
    assert form.fields["signature_secret"].help_text == "No value is set."


def test_adding_requires_api_key_and_secret(admin_client):
    response = admin_client.post(add_url(), {**BASE_POST, "name": "shop-de"})
    assert set(form_errors(response)) >= {"api_key", "api_secret"}
    assert not ApiCredential.objects.filter(name="shop-de").exists()


def test_adding_stores_the_typed_secrets_encrypted(admin_client, secrets):
    response = admin_client.post(add_url(), {**BASE_POST, "name": "shop-de", **secrets})
    assert response.status_code == 302
    saved = ApiCredential.objects.get(name="shop-de")
    assert {name: getattr(saved, name) for name in SECRETS} == secrets


def test_plain_http_base_url_is_refused_on_the_field(admin_client, staging_credential):
    response = admin_client.post(
        change_url(staging_credential), {**BASE_POST, "base_url": "http://provider.example"}
    )
    assert "http://" in " ".join(form_errors(response)["base_url"])


def test_http_loopback_base_url_is_accepted_when_allowed(
    admin_client, staging_credential, settings
):
    settings.APIAUTH = {**settings.APIAUTH, "ALLOW_INSECURE_LOOPBACK": True}
    saved = post_change(
        admin_client, staging_credential, base_url="http://127.0.0.1:8001", **SECRETS
    )
    assert saved.endpoint == "http://127.0.0.1:8001"


def test_unknown_environment_is_refused_on_the_field(admin_client, staging_credential):
    response = admin_client.post(
        change_url(staging_credential), {**BASE_POST, "environment": "moon"}
    )
    assert form_errors(response)["environment"]


def test_environment_choices_follow_the_settings(admin_client, staging_credential, settings):
    settings.APIAUTH = {
        **settings.APIAUTH,
        "ENVIRONMENTS": {**settings.APIAUTH.get("ENVIRONMENTS", {}), "eu": "https://eu.example"},
    }
    saved = post_change(admin_client, staging_credential, environment="eu", **SECRETS)
    assert saved.endpoint == "https://eu.example"


def test_history_names_changed_secrets_without_their_values(
    admin_client, staging_credential, secrets
):
    post_change(
        admin_client,
        staging_credential,
        api_secret="adm_secret_new_Rt5Yu6",
        clear_signature_secret="on",
    )
    entry = LogEntry.objects.get(object_id=str(staging_credential.pk))
    message = entry.get_change_message()
    assert "API secret" in message
    assert_no_secret(entry.change_message + message, {**secrets, "new": "adm_secret_new_Rt5Yu6"})


@pytest.mark.parametrize("view", ["add", "change"])
def test_add_and_change_views_hide_secrets_from_error_reports(
    admin_client, staging_credential, view
):
    url = add_url() if view == "add" else change_url(staging_credential)
    response = admin_client.post(url, {**BASE_POST, "name": "bad name", **SECRETS})
    request = response.wsgi_request
    hidden = SafeExceptionReporterFilter().get_post_parameters(request)
    for name in SECRETS:
        assert hidden[name] != SECRETS[name]
    assert hidden["name"] == "bad name"


def test_add_form_preselects_the_default_environment(admin_client, settings):
    settings.APIAUTH = {**settings.APIAUTH, "DEFAULT_ENVIRONMENT": "production"}
    form = admin_client.get(add_url()).context["adminform"].form
    assert form["environment"].value() == "production"


def test_a_save_that_fails_on_the_key_ring_leaves_no_secret_in_the_error_report(
    admin_client, settings, caplog
):
    # A malformed key (a typo in $APIAUTH_ENCRYPTION_KEYS; system checks do not run under
    # gunicorn) makes the save raise: the HTML error report (an AdminEmailHandler with
    # include_html, Sentry...) lists every frame's local variables.
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": ["not-a-fernet-key"]}
    admin_client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = admin_client.post(add_url(), {**BASE_POST, "name": "shop-new", **SECRETS})
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    reporter = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    report = reporter.get_traceback_html() + reporter.get_traceback_text()
    assert "ConfigurationError" in report
    assert_no_secret(report, SECRETS)
