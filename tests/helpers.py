"""Helpers shared by the test packages: the known secrets and raw SQL access to a column."""

from __future__ import annotations

from django.db import connection

STAGING = "https://staging.back.ecard.pledg.co"

# The secrets of the ``staging_credential`` fixture. Long and distinctive, so
# that finding one in a page, a log line or a column cannot be a coincidence.
SECRETS = {
    "api_key": "adm_key_7Hq2Lp9Xw4Vt6Zs1",
    "api_secret": "adm_secret_Nd8Kf3Jr5Gm0Yc2Bw",
    "dashboard_password": "adm_dash_Qe4Ru7Ty1Ui3",
    "signature_secret": "adm_sig_Mz6Xn9Cb2Vl5Ka8",
}


def _column_sql(statement: str, column: str) -> str:
    # Imported here: the root conftest imports this module before Django is set up.
    from django_apiauth.models import ApiCredential

    table = connection.ops.quote_name(ApiCredential._meta.db_table)
    return statement.format(table=table, column=connection.ops.quote_name(column))


def raw_column(pk: int, column: str) -> str:
    """The stored text of one ``ApiCredential`` column (the ciphertext), read with SQL."""
    with connection.cursor() as cursor:
        cursor.execute(_column_sql("SELECT {column} FROM {table} WHERE id = %s", column), [pk])
        return cursor.fetchone()[0]


def write_raw_column(pk: int, column: str, value: str) -> None:
    """Overwrite one ``ApiCredential`` column with SQL (no field conversion)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _column_sql("UPDATE {table} SET {column} = %s WHERE id = %s", column), [value, pk]
        )


def provider_token(payload: dict, secret: str, *, expires_in: int | None = None) -> str:
    """A JWT-scheme notification as the provider makes it: PyJWT directly, ``iat`` now.

    Not ``signing.sign()``: what the site signs is never a notification (issue 19).
    """
    import time

    import jwt

    claims = {"iat": int(time.time()), **payload}
    if expires_in is not None:
        claims["exp"] = int(time.time()) + expires_in
    return jwt.encode(claims, secret, algorithm="HS256")
