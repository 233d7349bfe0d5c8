"""Secrets are bound to their row (``uid``) and endpoint (issue 10, item 1)."""

import json
import pickle
from io import StringIO

import pytest
import responses
from django.core.cache import cache
from django.core.management import call_command

from django_apiauth import crypto
from django_apiauth.client import ApiClient
from django_apiauth.exceptions import DecryptionError, SecretsNotReenteredError
from django_apiauth.models import ApiCredential
from django_apiauth.rotation import rotate_keys
from tests.helpers import SECRETS, raw_column, write_raw_column
from tests.storage.encmodels.models import Vault

pytestmark = pytest.mark.django_db

ATTACKER = "https://attacker.example"


def reload(credential):
    return ApiCredential.objects.get(pk=credential.pk)


@pytest.mark.parametrize(
    ("column", "value"), [("base_url", ATTACKER), ("environment", "production")]
)
def test_an_sql_update_of_the_endpoint_makes_every_secret_undecryptable(
    staging_credential, column, value
):
    write_raw_column(staging_credential.pk, column, value)
    loaded = reload(staging_credential)
    for name in SECRETS:
        with pytest.raises(DecryptionError, match=f"{name} of pk={staging_credential.pk}"):
            getattr(loaded, name)


def test_a_queryset_update_of_the_endpoint_sends_nothing_anywhere(
    staging_credential, attacker_allowed
):
    ApiCredential.objects.filter(pk=staging_credential.pk).update(base_url=ATTACKER)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(DecryptionError):
            ApiClient(reload(staging_credential)).get("/api/orders", auth="basic")
        with pytest.raises(DecryptionError):
            ApiClient(reload(staging_credential)).access_token()
        assert len(mock.calls) == 0


def test_an_endpoint_changed_in_memory_makes_the_secrets_unreadable(staging_credential):
    loaded = reload(staging_credential)
    assert loaded.api_secret == SECRETS["api_secret"]  # decrypted once, for staging
    loaded.base_url = ATTACKER
    with pytest.raises(DecryptionError):
        loaded.api_secret


def test_saving_a_new_endpoint_with_kept_secrets_is_refused_naming_them(
    staging_credential, attacker_allowed
):
    before = {name: raw_column(staging_credential.pk, name) for name in SECRETS}
    loaded = reload(staging_credential)
    loaded.base_url = ATTACKER
    loaded.api_key = "typed-again-key-123456"
    with pytest.raises(SecretsNotReenteredError) as caught:
        loaded.save()
    assert caught.value.fields == ("api_secret", "dashboard_password", "signature_secret")
    assert "enter api_secret, dashboard_password, signature_secret again" in str(caught.value)
    assert {name: raw_column(staging_credential.pk, name) for name in SECRETS} == before
    assert reload(staging_credential).base_url == ""


def test_saving_a_new_endpoint_with_every_secret_entered_again_binds_them_to_it(
    staging_credential, attacker_allowed
):
    loaded = reload(staging_credential)
    loaded.base_url = ATTACKER
    for name in SECRETS:
        setattr(loaded, name, f"new-{name}-0123456789")
    loaded.save()
    assert reload(staging_credential).api_secret == "new-api_secret-0123456789"


def test_assigning_a_read_secret_back_does_not_count_as_entering_it_again(
    staging_credential, attacker_allowed
):
    loaded = reload(staging_credential)
    secrets = {name: getattr(loaded, name) for name in SECRETS}
    loaded.base_url = ATTACKER
    for name, value in secrets.items():
        setattr(loaded, name, value)
    with pytest.raises(SecretsNotReenteredError):
        loaded.save()


def test_full_clean_reports_the_secrets_to_enter_again(staging_credential, attacker_allowed):
    from django.core.exceptions import ValidationError

    loaded = reload(staging_credential)
    loaded.base_url = ATTACKER
    with pytest.raises(ValidationError) as caught:
        loaded.full_clean()
    assert set(caught.value.message_dict) == set(SECRETS)


def test_a_ciphertext_copied_to_another_row_does_not_decrypt(staging_credential):
    other = ApiCredential.objects.create(name="other", api_key="k" * 12, api_secret="s" * 12)
    write_raw_column(other.pk, "api_secret", raw_column(staging_credential.pk, "api_secret"))
    with pytest.raises(DecryptionError):
        reload(other).api_secret


def test_a_save_that_changes_nothing_keeps_the_stored_ciphertexts(staging_credential):
    before = raw_column(staging_credential.pk, "api_secret")
    loaded = reload(staging_credential)
    loaded.merchant_uid = "m-2"
    loaded.save()
    assert raw_column(staging_credential.pk, "api_secret") == before


def legacy(column, value):
    """A value as the first landing stored it: bound to its column only."""
    return crypto.encrypt(value, context=f"django_apiauth.apicredential.{column}")


def test_a_legacy_unbound_value_is_refused_naming_the_row(staging_credential):
    # Issue 19, item 5: the 0005 migration and apiauth_rotate_keys bind every row, so
    # an unbound value can only be one put back since (a pre-upgrade backup, by SQL).
    write_raw_column(staging_credential.pk, "api_secret", legacy("api_secret", "legacy-secret-1"))
    with pytest.raises(DecryptionError) as caught:
        reload(staging_credential).api_secret
    message = str(caught.value)
    assert f"ApiCredential.api_secret of pk={staging_credential.pk}" in message
    assert "apiauth_rotate_keys" in message and "legacy-secret-1" not in message


def test_after_rotation_an_old_value_put_back_by_sql_is_refused(staging_credential):
    write_raw_column(staging_credential.pk, "api_secret", legacy("api_secret", "legacy-secret-1"))
    rotate_keys()
    assert reload(staging_credential).api_secret == "legacy-secret-1"
    old = legacy("signature_secret", "known-old-signature-secret")
    write_raw_column(staging_credential.pk, "signature_secret", old)
    with pytest.raises(DecryptionError):
        reload(staging_credential).signature_secret


def test_the_binding_migration_binds_legacy_values(staging_credential):
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    migration = import_module("django_apiauth.migrations.0005_bind_legacy_secrets")
    write_raw_column(staging_credential.pk, "api_secret", legacy("api_secret", "legacy-secret-1"))
    migration.bind_legacy_secrets(apps, SimpleNamespace(connection=connection))
    assert reload(staging_credential).api_secret == "legacy-secret-1"
    assert reload(staging_credential).api_key == SECRETS["api_key"]


def test_rotation_binds_legacy_values_so_an_sql_endpoint_change_then_fails(staging_credential):
    write_raw_column(staging_credential.pk, "api_secret", legacy("api_secret", "legacy-secret-1"))
    report = rotate_keys()
    assert report.bound == 1
    assert reload(staging_credential).api_secret == "legacy-secret-1"
    write_raw_column(staging_credential.pk, "base_url", ATTACKER)
    with pytest.raises(DecryptionError):
        reload(staging_credential).api_secret


def test_saving_a_legacy_row_keeps_the_value_refused(staging_credential):
    # An admin edit of another field must not launder a value put back by SQL.
    write_raw_column(staging_credential.pk, "api_secret", legacy("api_secret", "legacy-secret-1"))
    loaded = reload(staging_credential)
    loaded.merchant_uid = "m-3"
    loaded.save()
    with pytest.raises(DecryptionError):
        reload(staging_credential).api_secret


def test_a_legacy_row_moved_through_the_orm_is_refused(staging_credential, attacker_allowed):
    write_raw_column(staging_credential.pk, "api_secret", legacy("api_secret", "legacy-secret-1"))
    loaded = reload(staging_credential)
    loaded.base_url = ATTACKER
    for name in ("api_key", "dashboard_password", "signature_secret"):
        setattr(loaded, name, f"new-{name}-0123456789")
    loaded.save()
    with pytest.raises(DecryptionError):
        reload(staging_credential).api_secret


def test_a_dump_restored_into_a_new_database_still_decrypts(staging_credential, tmp_path):
    out = StringIO()
    call_command("dumpdata", "django_apiauth", stdout=out)
    data = json.loads(out.getvalue())
    ApiCredential.objects.all().delete()
    data[0]["pk"] = 4242  # a new database numbers rows differently; the uid travels
    fixture = tmp_path / "backup.json"
    fixture.write_text(json.dumps(data))
    call_command("loaddata", str(fixture), stdout=StringIO())
    restored = ApiCredential.objects.get(pk=4242)
    assert {name: getattr(restored, name) for name in SECRETS} == SECRETS


def test_a_dump_whose_endpoint_was_edited_is_refused_on_loaddata(staging_credential, tmp_path):
    out = StringIO()
    call_command("dumpdata", "django_apiauth", stdout=out)
    data = json.loads(out.getvalue())
    ApiCredential.objects.all().delete()
    data[0]["fields"]["base_url"] = ATTACKER
    fixture = tmp_path / "backup.json"
    fixture.write_text(json.dumps(data))
    with pytest.raises(DecryptionError):
        call_command("loaddata", str(fixture), stdout=StringIO())
    assert not ApiCredential.objects.exists()


def test_an_unbound_field_of_a_users_model_works_as_before():
    first = Vault.objects.create(name="a", secret="vault-secret-1")
    second = Vault.objects.create(name="b", secret="other")
    Vault.objects.filter(pk=second.pk).update(secret="updated-by-queryset")
    assert Vault.objects.get(pk=second.pk).secret == "updated-by-queryset"
    # Bound to the column only, as documented: rows of one column share a sub-key.
    stored = Vault.objects.filter(pk=first.pk).values_list("secret", flat=True)[0]
    assert stored == "vault-secret-1"


def test_a_queryset_update_of_a_bound_secret_is_refused(staging_credential):
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError, match="assign it on an instance and call save"):
        ApiCredential.objects.filter(pk=staging_credential.pk).update(api_secret="x" * 12)


# ---------------------------------------------------------------- item 7: pickling


def assert_no_secret_in(data: bytes, secrets):
    leaked = [name for name, value in secrets.items() if value.encode() in data]
    assert not leaked, f"pickle carries {leaked}"


def test_a_pickled_loaded_credential_carries_ciphertexts_only(staging_credential):
    loaded = reload(staging_credential)
    assert loaded.api_secret == SECRETS["api_secret"]  # the decrypted value is cached
    data = pickle.dumps(loaded)
    assert_no_secret_in(data, SECRETS)
    assert pickle.loads(data).api_secret == SECRETS["api_secret"]


def test_a_pickled_credential_with_fresh_secrets_carries_ciphertexts_only():
    fresh = ApiCredential(name="fresh", **SECRETS)  # not saved yet: plaintext in memory
    data = pickle.dumps(fresh)
    assert_no_secret_in(data, SECRETS)
    assert pickle.loads(data).dashboard_password == SECRETS["dashboard_password"]


def test_caching_a_credential_puts_no_secret_in_the_cache(staging_credential):
    loaded = reload(staging_credential)
    cache.set("cred", loaded)
    stored = b"".join(v if isinstance(v, bytes) else b"" for v in cache._cache.values())
    assert stored
    assert_no_secret_in(stored, SECRETS)
    assert cache.get("cred").api_key == SECRETS["api_key"]


def test_a_read_secret_pickled_on_its_own_stays_sealed(staging_credential):
    value = reload(staging_credential).api_secret
    assert_no_secret_in(pickle.dumps(value), SECRETS)
