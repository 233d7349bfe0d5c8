"""Write new values to many rows at once, faster than ``QuerySet.bulk_update`` (its ``CASE
WHEN`` per column cost more than the re-encryption it stored; ``docs/architecture.md``).

PostgreSQL: one ``UPDATE ... FROM unnest(<one array per column>)`` per batch; SQLite: an
``executemany``; others: ``bulk_update``. Values go through each field's
``get_db_prep_save``, never ``save()``: no signals, no ``auto_now``, no ``pre_save``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models

__all__ = ["update_rows"]

#: Rows per statement.
DEFAULT_BATCH_SIZE = 1000


def update_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    using: str = "default",
    batch_size: int | None = None,
) -> int:
    """Set ``fields`` of each row: ``rows`` are ``(pk, value, value, ...)`` in ``fields`` order.

    Returns the number of rows given (rows that no longer exist are skipped
    silently, as ``bulk_update`` does). Run it inside a transaction when the
    batches must land together. ``batch_size``: rows per statement
    (:data:`DEFAULT_BATCH_SIZE` when not given).
    """
    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not rows:
        return 0
    opts = model._meta
    concrete = [opts.get_field(name) for name in fields]
    for fld in concrete:
        if not fld.concrete or fld.primary_key or fld.many_to_many:
            raise ValueError(f"{opts.label}.{fld.name} cannot be written by update_rows()")
    for row in rows:
        if len(row) != len(concrete) + 1:
            raise ValueError(f"each row is (pk, {', '.join(fields)}): got {len(row)} values")
    connection = connections[using]
    if connection.vendor == "postgresql":
        for start in range(0, len(rows), batch_size):
            _update_from_arrays(model, concrete, rows[start : start + batch_size], connection)
    elif connection.vendor == "sqlite":
        _update_many(model, concrete, rows, connection)
    else:
        objects = [model(pk=row[0], **dict(zip(fields, row[1:], strict=True))) for row in rows]
        model._base_manager.using(using).bulk_update(objects, fields, batch_size=batch_size)
    return len(rows)


def _prepared(model, fields, row, connection) -> list[Any]:
    pk = model._meta.pk.get_db_prep_value(row[0], connection)
    return [pk] + [
        fld.get_db_prep_save(value, connection) for fld, value in zip(fields, row[1:], strict=True)
    ]


def _update_from_arrays(model, fields, rows, connection) -> None:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    columns = [pk, *fields]
    # One array parameter per column, typed by its cast: the statement stays a
    # few hundred characters however many rows it carries.
    # %b: psycopg 3 sends each array in binary, no element quoted in Python.
    mark = "%b" if connection.Database.__name__ == "psycopg" else "%s"
    arrays = ", ".join(f"{mark}::{fld.cast_db_type(connection)}[]" for fld in columns)
    alias = quote("apiauth_v")
    names = ", ".join(quote(fld.column) for fld in columns)
    assignments = ", ".join(f"{quote(fld.column)} = {alias}.{quote(fld.column)}" for fld in fields)
    # Only quoted identifiers of the model are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {assignments} "  # noqa: S608
        f"FROM unnest({arrays}) AS {alias} ({names}) "
        f"WHERE {table}.{quote(pk.column)} = {alias}.{quote(pk.column)}"
    )
    prepared = [_prepared(model, fields, row, connection) for row in rows]
    params = [list(column) for column in zip(*prepared, strict=True)]
    with binding_cursor(connection) as cursor:
        cursor.execute(sql, params)


def binding_cursor(connection):
    """A cursor binding on the server (psycopg 3): Django's quotes every array element in Python."""
    from django.db.backends.postgresql import base

    if not base.is_psycopg3:
        return connection.cursor()
    connection.ensure_connection()
    return connection._prepare_cursor(base.ServerBindingCursor(connection.connection))


def _update_many(model, fields, rows, connection) -> None:
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(fld.column)} = %s" for fld in fields)
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {assignments} "  # noqa: S608
        f"WHERE {quote(model._meta.pk.column)} = %s"
    )
    prepared = (_prepared(model, fields, row, connection) for row in rows)
    params = [values[1:] + values[:1] for values in prepared]  # the pk last, for WHERE
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
