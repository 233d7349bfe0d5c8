"""dumpdata and loaddata: fixtures and backups carry ciphertexts, never secrets."""

import json
from io import StringIO

import pytest
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.serializers.base import DeserializationError
from django.forms.models import model_to_dict

from django_apiauth.exceptions import DecryptionError
from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS
from tests.storage.encmodels.models import Vault

pytestmark = pytest.mark.django_db


def dump():
    out = StringIO()
    call_command("dumpdata", "django_apiauth", stdout=out)
    return out.getvalue()


def test_dumpdata_writes_ciphertexts_not_secrets(staging_credential):
    output = dump()
    for value in SECRETS.values():
        assert value not in output
    fields = json.loads(output)[0]["fields"]
    for name in SECRETS:
        assert fields[name].startswith("v1:")


def test_loaddata_restores_the_secrets(staging_credential, tmp_path):
    fixture = tmp_path / "credentials.json"
    fixture.write_text(dump())
    ApiCredential.objects.all().delete()
    call_command("loaddata", str(fixture), stdout=StringIO())
    loaded = ApiCredential.objects.get(name="shop-fr")
    for name, value in SECRETS.items():
        assert getattr(loaded, name) == value


def test_a_fixture_from_another_key_ring_is_refused(staging_credential, settings, new_key):
    data = dump()
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    # Bound secrets need their row to be checked: loading the object refuses them.
    (obj,) = serializers.deserialize("json", data)
    with pytest.raises(DecryptionError, match="not in the key ring"):
        obj.save()


def test_a_fixture_of_an_unbound_field_from_another_key_ring_is_refused(settings, new_key):
    Vault.objects.create(name="v", secret="vault-secret-1")
    out = StringIO()
    call_command("dumpdata", "encmodels.vault", stdout=out)
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    with pytest.raises(DeserializationError, match="cannot decrypt"):
        list(serializers.deserialize("json", out.getvalue()))


def test_empty_and_null_values_serialise_as_they_are(staging_credential):
    staging_credential.signature_secret = ""
    staging_credential.save()
    assert json.loads(dump())[0]["fields"]["signature_secret"] == ""


def test_model_to_dict_shows_no_secret(staging_credential):
    loaded = ApiCredential.objects.get(pk=staging_credential.pk)
    values = model_to_dict(loaded)
    assert SECRETS["api_secret"] not in repr(values)
    field = ApiCredential._meta.get_field("api_secret")
    assert field.clean(values["api_secret"], loaded) == SECRETS["api_secret"]


def test_an_undecryptable_row_is_dumped_as_stored(staging_credential, settings, new_key):
    from tests.helpers import raw_column

    stored = raw_column(staging_credential.pk, "api_secret")
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    assert json.loads(dump())[0]["fields"]["api_secret"] == stored


def test_plaintext_that_merely_looks_like_a_ciphertext_is_refused_on_clean():
    cred = ApiCredential(name="x", api_key="v1:12345678:not-a-token", api_secret="s" * 12)
    with pytest.raises(ValidationError) as err:
        cred.full_clean()
    assert "api_key" in err.value.message_dict


def test_a_deferred_undecryptable_field_is_dumped_as_stored(staging_credential, settings, new_key):
    from tests.helpers import raw_column

    stored = raw_column(staging_credential.pk, "api_secret")
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    deferred = ApiCredential.objects.defer("api_secret").get(pk=staging_credential.pk)
    field = ApiCredential._meta.get_field("api_secret")
    assert field.value_from_object(deferred) == stored
