"""Keys derived from SECRET_KEY: never a loss when moving to dedicated keys (issue 10, item 3)."""

from io import StringIO

import pytest
from django.core.management import call_command

from django_apiauth import checks, crypto
from django_apiauth.models import ApiCredential
from django_apiauth.rotation import values_per_key
from tests.helpers import SECRETS

pytestmark = pytest.mark.django_db


@pytest.fixture
def derived_rows(settings, monkeypatch):
    """A credential written with no dedicated key: under the SECRET_KEY-derived key."""
    monkeypatch.delenv("APIAUTH_ENCRYPTION_KEYS", raising=False)
    settings.APIAUTH = {}
    return ApiCredential.objects.create(name="derived", **SECRETS)


def w004():
    return checks.check_keys_still_in_use(databases=["default"])


def test_rows_under_the_derived_key_still_decrypt_after_a_dedicated_key_is_set(
    derived_rows, settings, new_key
):
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    loaded = ApiCredential.objects.get(pk=derived_rows.pk)
    assert {name: getattr(loaded, name) for name in SECRETS} == SECRETS


def test_rotation_moves_every_derived_row_onto_the_dedicated_key(derived_rows, settings, new_key):
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    out = StringIO()
    call_command("apiauth_rotate_keys", stdout=out)
    primary = crypto.get_key_ring().primary.key_id
    assert values_per_key() == {primary: len(SECRETS)}
    settings.SECRET_KEY = "an-entirely-different-secret-key-after-rotation"
    loaded = ApiCredential.objects.get(pk=derived_rows.pk)
    assert loaded.api_secret == SECRETS["api_secret"]


def test_w004_warns_while_rows_depend_on_the_derived_key(derived_rows, settings, new_key):
    assert w004() == []
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    (warning,) = w004()
    assert warning.id == "django_apiauth.W004"
    assert "4 under" in warning.msg and "derived from SECRET_KEY" in warning.msg
    call_command("apiauth_rotate_keys", stdout=StringIO())
    assert w004() == []


def test_w004_names_a_key_derived_from_a_fallback(derived_rows, settings, monkeypatch):
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-secret-key-of-a-django-key-rotation"
    (warning,) = w004()
    assert "derived from SECRET_KEY_FALLBACKS" in warning.msg


def test_w004_names_a_dedicated_key_that_is_not_first(settings, new_key):
    old = settings.APIAUTH["ENCRYPTION_KEYS"]
    ApiCredential.objects.create(name="old-key", **SECRETS)
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key, *old]}
    (warning,) = w004()
    assert "not the first key" in warning.msg


def test_w004_needs_the_database_option():
    assert checks.check_keys_still_in_use(databases=None) == []
