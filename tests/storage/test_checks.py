"""System checks and migrations."""

from io import StringIO

import pytest
from django.core.management import call_command

from django_apiauth import checks
from django_apiauth.crypto import generate_key


def ids(messages):
    return [m.id for m in messages]


def test_dedicated_key_passes():
    assert checks.check_encryption_keys() == []
    assert checks.check_encryption_keys_deploy() == []


def test_malformed_key_is_an_error_without_the_key(settings):
    settings.APIAUTH = {"ENCRYPTION_KEYS": ["definitely-not-fernet"]}
    messages = checks.check_encryption_keys()
    assert ids(messages) == ["django_apiauth.E001"]
    assert "definitely-not-fernet" not in messages[0].msg


def test_key_derived_from_secret_key_warns_and_fails_deploy(settings, monkeypatch):
    monkeypatch.delenv("APIAUTH_ENCRYPTION_KEYS", raising=False)
    settings.APIAUTH = {}
    assert ids(checks.check_encryption_keys()) == ["django_apiauth.W001"]
    assert ids(checks.check_encryption_keys_deploy()) == ["django_apiauth.E002"]


def test_process_local_token_cache_warns_when_not_debug(settings):
    settings.DEBUG = False
    assert ids(checks.check_token_cache()) == ["django_apiauth.W002"]
    settings.DEBUG = True
    assert checks.check_token_cache() == []


def test_shared_token_cache_passes(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "x"}
    }
    assert checks.check_token_cache() == []


def test_unknown_cache_alias_is_an_error(settings):
    settings.APIAUTH = {**settings.APIAUTH, "CACHE_ALIAS": "tokens"}
    assert ids(checks.check_token_cache()) == ["django_apiauth.E003"]


def test_verify_false_is_an_error(settings):
    settings.APIAUTH = {**settings.APIAUTH, "VERIFY": False}
    assert "django_apiauth.E004" in ids(checks.check_transport_settings())


def test_ca_bundle_path_is_accepted(settings):
    settings.APIAUTH = {**settings.APIAUTH, "VERIFY": "/etc/ssl/certs/ca-certificates.crt"}
    assert checks.check_transport_settings() == []


def test_unknown_setting_names_are_flagged(settings):
    settings.APIAUTH = {**settings.APIAUTH, "REFRESH_MARGN": 30}
    messages = checks.check_transport_settings()
    assert ids(messages) == ["django_apiauth.W003"] and "REFRESH_MARGN" in messages[0].msg


def test_checks_are_registered_with_django(settings):
    settings.APIAUTH = {"ENCRYPTION_KEYS": [generate_key(), "bad"]}
    from django.core.checks import run_checks

    assert "django_apiauth.E001" in ids(run_checks())


@pytest.mark.django_db
def test_no_missing_migrations():
    # Fails when a model change was made without its migration.
    call_command("makemigrations", "django_apiauth", "--check", "--dry-run", stdout=StringIO())
