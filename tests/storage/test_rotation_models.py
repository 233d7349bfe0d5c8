"""Key rotation of a user's own models: filtering default managers, multi-table inheritance."""

import pytest
from django.db import connection

from django_apiauth import crypto, rotation

from .encmodels.models import ChildVault, Vault

pytestmark = pytest.mark.django_db


def stored(model, pk, column):
    table = connection.ops.quote_name(model._meta.db_table)
    pk_column = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE {pk_column} = %s",
            [pk],
        )
        return cursor.fetchone()[0]


def key_id(value):
    return value.split(":")[1]


def add_primary_key(settings):
    old = settings.APIAUTH["ENCRYPTION_KEYS"]
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [crypto.generate_key(), *old]}
    return crypto.get_key_ring().primary.key_id


def test_rows_hidden_by_the_default_manager_are_rotated_too(settings):
    archived = Vault.objects.create(name="old", archived=True, secret="s3cr3t-archived")
    primary = add_primary_key(settings)
    report = rotation.rotate_keys()
    # Left under the old key, the value would be lost once that key leaves the ring.
    assert key_id(stored(Vault, archived.pk, "secret")) == primary
    assert report.rotated == 1
    assert Vault._base_manager.get(pk=archived.pk).secret == "s3cr3t-archived"


def test_inherited_fields_are_counted_and_rotated_once(settings):
    Vault.objects.create(name="parent", secret="parent-secret")
    child = ChildVault.objects.create(name="child", secret="child-secret", token="child-token")
    old = crypto.get_key_ring().primary.key_id
    primary = add_primary_key(settings)

    dry = rotation.rotate_keys(dry_run=True)
    assert dry.by_key == {old: 3}  # parent.secret, child.secret, child.token
    assert dry.rotated == 3

    report = rotation.rotate_keys()
    assert report.by_key == {old: 3}
    assert report.rotated == 3
    assert key_id(stored(Vault, child.pk, "secret")) == primary
    assert key_id(stored(ChildVault, child.pk, "token")) == primary
    loaded = ChildVault.objects.get(pk=child.pk)
    assert (loaded.secret, loaded.token) == ("child-secret", "child-token")
