"""System checks and migrations."""

import re
import sys
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

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
    assert "django_apiauth.E004" in ids(checks.check_settings())


def test_ca_bundle_path_is_accepted(settings):
    settings.APIAUTH = {**settings.APIAUTH, "VERIFY": "/etc/ssl/certs/ca-certificates.crt"}
    assert checks.check_settings() == []


def test_unknown_setting_names_are_flagged(settings):
    settings.APIAUTH = {**settings.APIAUTH, "REFRESH_MARGN": 30}
    messages = checks.check_settings()
    assert ids(messages) == ["django_apiauth.W003"] and "REFRESH_MARGN" in messages[0].msg


def test_checks_are_registered_with_django(settings):
    settings.APIAUTH = {"ENCRYPTION_KEYS": [generate_key(), "bad"]}
    assert "django_apiauth.E001" in ids(run_checks())


@pytest.mark.django_db
def test_no_missing_migrations():
    # Fails when a model change was made without its migration.
    call_command("makemigrations", "django_apiauth", "--check", "--dry-run", stdout=StringIO())


# --- every setting through its validator ------------------------------------------------

BAD_VALUES = [
    ("TIMEOUT", None, "django_apiauth.E005"),
    ("TIMEOUT", (3.05, None), "django_apiauth.E005"),
    ("TIMEOUT", 0, "django_apiauth.E005"),
    ("MAX_RETRIES", -1, "django_apiauth.E006"),
    ("MAX_RETRIES", "2", "django_apiauth.E006"),
    ("MAX_RETRIES", 1.5, "django_apiauth.E006"),
    ("REFRESH_MARGIN", "sixty", "django_apiauth.E007"),
    ("REFRESH_MARGIN", -1, "django_apiauth.E007"),
    ("EXPIRY_LEEWAY", float("nan"), "django_apiauth.E008"),
    ("EXPIRY_LEEWAY", True, "django_apiauth.E008"),
    ("LOCK_TIMEOUT", 0, "django_apiauth.E009"),
    ("LOCK_TIMEOUT", None, "django_apiauth.E009"),
    ("CHECK_PATH", 5, "django_apiauth.E010"),
    ("CHECK_PATH", "", "django_apiauth.E010"),
    ("CHECK_PATH", "https://elsewhere.example/api/me", "django_apiauth.E010"),
    ("TOKEN_PATH", "api/token", "django_apiauth.E011"),
    ("ENVIRONMENTS", {"staging": "http://staging.example.com"}, "django_apiauth.E012"),
    ("ENVIRONMENTS", ["https://staging.example.com"], "django_apiauth.E012"),
    ("DEFAULT_ENVIRONMENT", "prod", "django_apiauth.E013"),
    ("ALLOW_INSECURE_LOOPBACK", "False", "django_apiauth.E014"),
    ("VERIFY", False, "django_apiauth.E004"),
    ("VERIFY", 0, "django_apiauth.E004"),
    ("VERIFY", "", "django_apiauth.E004"),
    ("VERIFY", None, "django_apiauth.E004"),
    ("VERIFY", "/nonexistent/ca.pem", "django_apiauth.E004"),
    ("NOTIFICATION_LEEWAY", -5, "django_apiauth.E017"),
    ("NOTIFICATION_LEEWAY", "60", "django_apiauth.E017"),
    ("NOTIFICATION_RETENTION_DAYS", 0, "django_apiauth.E018"),
    ("NOTIFICATION_RETENTION_DAYS", 1.5, "django_apiauth.E018"),
    ("NOTIFICATION_CLAIM_TIMEOUT", 0, "django_apiauth.E019"),
    ("ALLOWED_HOSTS", "api.example.com", "django_apiauth.E020"),
    ("ALLOWED_HOSTS", ["https://api.example.com/"], "django_apiauth.E020"),
]


@pytest.mark.parametrize(("name", "value", "check_id"), BAD_VALUES)
def test_each_bad_setting_is_reported_with_its_id_naming_the_setting(
    settings, name, value, check_id
):
    settings.APIAUTH = {**settings.APIAUTH, name: value}
    messages = checks.check_settings()
    assert ids(messages) == [check_id]
    assert f"APIAUTH['{name}']" in messages[0].msg
    assert messages[0].hint


@pytest.mark.parametrize(("name", "value", "check_id"), BAD_VALUES)
def test_the_same_validator_refuses_the_value_at_request_time(settings, name, value, check_id):
    from django_apiauth.conf import api_settings
    from django_apiauth.exceptions import ConfigurationError

    settings.APIAUTH = {**settings.APIAUTH, name: value}
    with pytest.raises(ConfigurationError, match=re.escape(f"APIAUTH['{name}']")):
        api_settings.validated(name)


def test_every_bad_value_is_reported_at_once(settings):
    settings.APIAUTH = {**settings.APIAUTH, "TIMEOUT": None, "MAX_RETRIES": -1, "VERIFY": 0}
    assert sorted(ids(checks.check_settings())) == [
        "django_apiauth.E004",
        "django_apiauth.E005",
        "django_apiauth.E006",
    ]


def test_the_test_settings_pass_every_check(settings):
    settings.DEBUG = True  # a LocMem token cache is fine while developing
    assert checks.check_settings() == []
    assert checks.check_token_cache() == []


def test_manage_py_check_reports_a_bad_timing_setting(settings):
    settings.APIAUTH = {**settings.APIAUTH, "REFRESH_MARGIN": "sixty"}
    with pytest.raises(SystemCheckError, match=r"django_apiauth\.E007"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


def test_an_unknown_setting_suggests_the_one_it_misspells(settings):
    settings.APIAUTH = {**settings.APIAUTH, "REFRESH_MARGN": 30}
    (message,) = checks.check_settings()
    assert "REFRESH_MARGN (did you mean REFRESH_MARGIN?)" in message.msg


def test_a_loopback_environment_passes_with_insecure_loopback_allowed(settings):
    settings.APIAUTH = {
        **settings.APIAUTH,
        "ENVIRONMENTS": {"staging": "http://127.0.0.1:8001"},
        "ALLOW_INSECURE_LOOPBACK": True,
    }
    assert checks.check_settings() == []


def test_an_environment_url_with_a_password_is_refused_without_showing_it(settings):
    settings.APIAUTH = {
        **settings.APIAUTH,
        "ENVIRONMENTS": {"staging": "https://user:hunter2@staging.example.com"},
    }
    (message,) = checks.check_settings()
    assert message.id == "django_apiauth.E012"
    assert "hunter2" not in message.msg


# --- the token cache --------------------------------------------------------------------

REDIS_CACHE = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "x"}


def test_a_redis_cache_without_the_redis_package_is_an_error_with_the_extra_to_install(
    settings, monkeypatch
):
    settings.CACHES = {"default": REDIS_CACHE}
    monkeypatch.setitem(sys.modules, "redis", None)  # "import redis" now fails
    (message,) = checks.check_token_cache()
    assert message.id == "django_apiauth.E015"
    assert 'pip install "django-apiauth[redis]"' in message.hint


def test_a_cache_backend_that_does_not_import_is_an_error(settings):
    settings.CACHES = {"default": {"BACKEND": "no_such_package.cache.Backend"}}
    assert ids(checks.check_token_cache()) == ["django_apiauth.E015"]


def test_an_unreachable_token_cache_is_reported_only_by_the_deploy_checks(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    assert ids(checks.check_token_cache_reachable()) == ["django_apiauth.E016"]
    assert checks.check_token_cache() == []
    assert "django_apiauth.E016" not in ids(run_checks(include_deployment_checks=False))
    assert "django_apiauth.E016" in ids(run_checks(include_deployment_checks=True))


@pytest.mark.redis
def test_a_reachable_shared_token_cache_passes_the_deploy_check(redis_cache_settings):
    assert checks.check_token_cache_reachable() == []


@pytest.fixture
def checked_credential(db):
    from django_apiauth.testing import FakeProvider

    with FakeProvider() as provider:
        provider.create_credential(name="shop")
        yield provider


def run_apiauth_check():
    out, err = StringIO(), StringIO()
    call_command("apiauth_check", "shop", stdout=out, stderr=err, no_color=True)
    return out.getvalue(), err.getvalue()


def test_apiauth_check_warns_when_the_token_cache_is_per_process(checked_credential):
    out, err = run_apiauth_check()
    assert "WARNING (django_apiauth.W002): The token cache 'default' uses LocMemCache" in err
    assert out.startswith("OK")


def test_apiauth_check_warns_when_the_token_cache_does_not_work(checked_credential, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    _out, err = run_apiauth_check()
    assert "WARNING (django_apiauth.E016): The token cache 'default' cannot be reached" in err


@pytest.mark.django_db
def test_w011_names_the_rows_still_unbound_and_how_to_finish(staging_credential):
    from django_apiauth import crypto
    from tests.helpers import write_raw_column

    assert not [m for m in run_checks(databases=["default"]) if m.id == "django_apiauth.W011"]
    old = crypto.encrypt("old-secret-0123", context="django_apiauth.apicredential.api_secret")
    write_raw_column(staging_credential.pk, "api_secret", old)

    (warning,) = [m for m in run_checks(databases=["default"]) if m.id == "django_apiauth.W011"]
    assert f"pk={staging_credential.pk}" in warning.msg and "api_secret" in warning.msg
    assert "apiauth_rotate_keys" in warning.hint
    assert "old-secret-0123" not in warning.msg + warning.hint
