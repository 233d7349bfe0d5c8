"""Rotation writes each batch with the fast bulk write, not ``bulk_update``."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from django_apiauth import rotation
from django_apiauth.models import ApiCredential

from .test_rotation import add_primary_key, assert_all_values_intact, make_rows

pytestmark = pytest.mark.django_db(transaction=True)


def credential_updates(queries) -> list[str]:
    table = ApiCredential._meta.db_table
    # SQLite's executemany is logged once, as "<n> times: UPDATE ...".
    return [
        q["sql"]
        for q in queries
        if re.match(r"(\d+ times: )?UPDATE", q["sql"]) and table in q["sql"]
    ]


def test_rotation_writes_one_statement_per_batch(settings):
    make_rows(25)
    add_primary_key(settings)
    with CaptureQueriesContext(connection) as queries:
        report = rotation.rotate_keys(batch_size=10)
    assert report.rows_updated == 25
    assert len(credential_updates(queries)) == 3
    assert_all_values_intact(25)


def test_rotation_does_not_use_bulk_update(settings, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("bulk_update builds a CASE WHEN per column: too slow")

    monkeypatch.setattr(QuerySet, "bulk_update", refuse)
    make_rows(5)
    add_primary_key(settings)
    assert rotation.rotate_keys().rows_updated == 5
    assert_all_values_intact(5)
