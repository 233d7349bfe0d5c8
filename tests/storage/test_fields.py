"""EncryptedTextField: what is stored, what is returned, what is refused."""

import pytest
from django.core.exceptions import FieldError
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from django_apiauth.exceptions import DecryptionError
from django_apiauth.fields import Sealed
from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS, raw_column, write_raw_column
from tests.storage.encmodels.models import Vault

pytestmark = pytest.mark.django_db

ENCRYPTED = ["api_key", "api_secret", "dashboard_password", "signature_secret"]


def test_no_secret_in_any_column(staging_credential):
    table = connection.ops.quote_name(ApiCredential._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        rows = cursor.fetchall()
    dump = repr(rows)
    for value in SECRETS.values():
        assert value not in dump
    for column in ENCRYPTED:
        assert raw_column(staging_credential.pk, column).startswith("v1:")


def test_values_round_trip_through_the_database(staging_credential):
    loaded = ApiCredential.objects.get(pk=staging_credential.pk)
    for field, value in SECRETS.items():
        assert getattr(loaded, field) == value


def test_values_queries_of_a_bound_field_give_sealed_values_not_secrets(staging_credential):
    # Without its row there is no binding to decrypt with: load instances instead.
    (value,) = ApiCredential.objects.values_list("api_secret", flat=True)
    assert isinstance(value, Sealed)
    assert SECRETS["api_secret"] not in repr(value) + str(value)


def test_values_queries_of_an_unbound_field_decrypt():
    Vault.objects.create(name="v", secret="vault-secret-1")
    assert list(Vault.objects.values_list("secret", flat=True)) == ["vault-secret-1"]


def test_empty_string_stays_empty_and_is_not_encrypted(staging_credential):
    staging_credential.signature_secret = ""
    staging_credential.save()
    assert raw_column(staging_credential.pk, "signature_secret") == ""
    assert ApiCredential.objects.get(pk=staging_credential.pk).signature_secret == ""


def test_none_stays_null():
    field = ApiCredential._meta.get_field("api_key")
    assert field.get_prep_value(None) is None
    assert field.from_db_value(None, None, connection) is None


def test_only_isnull_lookup_is_allowed(staging_credential):
    assert ApiCredential.objects.filter(dashboard_password__isnull=False).count() == 1
    for lookup in ["api_key", "api_key__exact", "api_key__icontains", "api_key__in"]:
        value = ["x"] if lookup.endswith("__in") else "x"
        with pytest.raises(FieldError, match="is encrypted; only the 'isnull' lookup"):
            list(ApiCredential.objects.filter(**{lookup: value}))


@pytest.mark.parametrize("path", ["api_key__lower", "api_key__lower__exact"])
def test_transforms_are_refused(path):
    with pytest.raises(FieldError, match="ApiCredential.api_key is encrypted"):
        list(ApiCredential.objects.filter(**{path: "x"}))


def test_bytes_are_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="takes text, not bytes"):
        ApiCredential.objects.create(name="b", api_key=b"raw", api_secret="s")


def test_ciphertext_moved_to_another_column_fails_loudly(staging_credential):
    write_raw_column(
        staging_credential.pk, "api_secret", raw_column(staging_credential.pk, "api_key")
    )
    loaded = ApiCredential.objects.get(pk=staging_credential.pk)
    assert loaded.api_key == SECRETS["api_key"]
    with pytest.raises(
        DecryptionError, match=rf"ApiCredential.api_secret of pk={staging_credential.pk}"
    ):
        loaded.api_secret


def test_plaintext_legacy_value_is_not_returned_as_if_decrypted(staging_credential):
    write_raw_column(staging_credential.pk, "api_secret", "legacy-plaintext")
    loaded = ApiCredential.objects.get(pk=staging_credential.pk)
    with pytest.raises(DecryptionError, match="apiauth_rotate_keys"):
        loaded.api_secret


def test_undecryptable_row_loads_and_saves_without_losing_the_value(
    staging_credential, settings, new_key
):
    stored = raw_column(staging_credential.pk, "api_secret")
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    loaded = ApiCredential.objects.get(pk=staging_credential.pk)  # loading never raises
    assert str(loaded) == "shop-fr" and "shop-fr" in repr(loaded)
    assert not loaded.has_readable_secrets()
    loaded.merchant_uid = "m-1"
    loaded.save()
    assert raw_column(staging_credential.pk, "api_secret") == stored
    assert isinstance(loaded.__dict__["api_secret"], Sealed)
    assert "v1:" not in repr(loaded.__dict__["api_secret"])


def test_deferred_field_is_loaded_and_decrypted(staging_credential):
    loaded = ApiCredential.objects.defer("api_secret").get(pk=staging_credential.pk)
    assert loaded.api_secret == SECRETS["api_secret"]


def test_a_deferred_field_saved_by_name_keeps_its_value(staging_credential):
    loaded = ApiCredential.objects.defer("api_secret").get(pk=staging_credential.pk)
    stored = raw_column(staging_credential.pk, "api_secret")
    loaded.save(update_fields=["api_secret", "merchant_uid"])  # used to write NULL
    assert ApiCredential.objects.get(pk=staging_credential.pk).api_secret == SECRETS["api_secret"]
    assert raw_column(staging_credential.pk, "api_secret") == stored  # an unchanged secret is kept


def test_a_deferred_undecryptable_field_saved_by_name_is_written_back(
    staging_credential, settings, new_key
):
    stored = raw_column(staging_credential.pk, "api_secret")
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [new_key]}
    loaded = ApiCredential.objects.defer("api_secret").get(pk=staging_credential.pk)
    loaded.save(update_fields=["api_secret"])
    assert raw_column(staging_credential.pk, "api_secret") == stored


@pytest.mark.slow  # 60 examples through the database
@hyp_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(value=st.text(min_size=1, max_size=300) | st.text(min_size=5000, max_size=6000))
def test_any_text_round_trips(value):
    field = Vault._meta.get_field("secret")
    stored = field.get_prep_value(value)
    assert stored.startswith("v1:")
    assert field.from_db_value(stored, None, connection) == value


@pytest.mark.parametrize(
    "value", ["ünïcødé ☃ 🔑", "\x00nul inside", "x" * 100_000, " padded ", "line\nbreak"]
)
def test_awkward_values_survive_the_database(value):
    cred = ApiCredential.objects.create(name="awkward", api_key="k" * 12, api_secret=value)
    assert ApiCredential.objects.get(pk=cred.pk).api_secret == value
