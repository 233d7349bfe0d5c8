import pytest
from django.db import connection

from django_apiauth.crypto import generate_key
from django_apiauth.models import ApiCredential

SECRETS = {
    "api_key": "key_live_9f8e7d6c5b4a",
    "api_secret": "sec_Zq1Xw2Ec3Rv4Tb5Yn6",
    "dashboard_password": "dash-Pa55w0rd!",
    "signature_secret": "sig-0123456789abcdef",
}


@pytest.fixture
def secrets():
    return dict(SECRETS)


@pytest.fixture
def credential(db):
    return ApiCredential.objects.create(name="shop", dashboard_username="a@b.c", **SECRETS)


def raw_column(pk, column):
    """The stored text of one column, read with SQL (no field conversion)."""
    table = connection.ops.quote_name(ApiCredential._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk]
        )
        return cursor.fetchone()[0]


def write_raw_column(pk, column, value):
    table = connection.ops.quote_name(ApiCredential._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {connection.ops.quote_name(column)} = %s WHERE id = %s",
            [value, pk],
        )


@pytest.fixture
def new_key():
    return generate_key()
