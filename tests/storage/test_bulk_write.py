"""``bulk_write.update_rows``: one statement per batch, values prepared by their fields."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_apiauth.bulk_write import update_rows
from django_apiauth.fields import Sealed
from django_apiauth.models import ApiCredential
from tests.helpers import raw_column

pytestmark = pytest.mark.django_db

#: An UPDATE statement as logged (SQLite's executemany: "<n> times: UPDATE ...").
UPDATE = re.compile(r"(\d+ times: )?UPDATE")

WHEN = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


def make(count):
    return [
        ApiCredential.objects.create(name=f"c{i:03d}", api_key=f"key{i}", api_secret="s")
        for i in range(count)
    ]


def test_each_row_gets_its_own_values():
    credentials = make(5)
    rows = [(c.pk, WHEN, i % 2 == 0, f"detail {i}") for i, c in enumerate(credentials)]
    assert update_rows(ApiCredential, ["last_check_at", "last_check_ok", "last_check_detail"], rows)
    stored = ApiCredential.objects.order_by("name")
    assert [(c.last_check_at, c.last_check_ok, c.last_check_detail) for c in stored] == [
        (WHEN, i % 2 == 0, f"detail {i}") for i in range(5)
    ]


def test_rows_not_named_are_left_alone():
    first, second = make(2)
    update_rows(ApiCredential, ["last_check_detail"], [(first.pk, "written")])
    second.refresh_from_db()
    assert second.last_check_detail == ""


def test_null_values_are_written_as_null():
    (credential,) = make(1)
    ApiCredential.objects.filter(pk=credential.pk).update(last_check_ok=True)
    update_rows(ApiCredential, ["last_check_ok"], [(credential.pk, None)])
    credential.refresh_from_db()
    assert credential.last_check_ok is None


def test_an_encrypted_column_takes_a_sealed_value_as_it_is():
    source, target = make(2)
    stored = raw_column(source.pk, "api_secret")
    update_rows(ApiCredential, ["api_secret"], [(target.pk, Sealed(stored))])
    assert raw_column(target.pk, "api_secret") == stored


def test_one_statement_per_batch():
    credentials = make(7)
    rows = [(c.pk, f"d{c.pk}") for c in credentials]
    with CaptureQueriesContext(connection) as queries:
        update_rows(ApiCredential, ["last_check_detail"], rows, batch_size=3)
    updates = [q for q in queries if UPDATE.match(q["sql"])]  # executemany: "7 times: UPDATE"
    # SQLite runs one prepared statement for every row (executemany); PostgreSQL one per batch.
    assert len(updates) == (1 if connection.vendor == "sqlite" else 3)
    assert sorted(ApiCredential.objects.values_list("last_check_detail", flat=True)) == sorted(
        f"d{c.pk}" for c in credentials
    )


def test_signals_and_auto_now_are_not_involved():
    (credential,) = make(1)
    before = ApiCredential.objects.get(pk=credential.pk).updated_at
    update_rows(ApiCredential, ["merchant_uid"], [(credential.pk, "m-9")])
    credential.refresh_from_db()
    assert credential.merchant_uid == "m-9"
    assert credential.updated_at == before


def test_a_row_of_the_wrong_length_is_refused():
    (credential,) = make(1)
    with pytest.raises(ValueError, match=r"each row is \(pk, merchant_uid\)"):
        update_rows(ApiCredential, ["merchant_uid"], [(credential.pk, "a", "b")])


def test_the_primary_key_cannot_be_written():
    with pytest.raises(ValueError, match="ApiCredential.id cannot be written"):
        update_rows(ApiCredential, ["id"], [(1, 2)])


def test_no_rows_run_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert update_rows(ApiCredential, ["merchant_uid"], []) == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the array path is PostgreSQL's")
def test_arrays_are_parameters_not_quoted_into_the_statement():
    # Quoting every element into the SQL text in Python was 8 % of key rotation.
    credentials = make(3)
    rows = [(c.pk, WHEN, True, f"marker-{i}-detail") for i, c in enumerate(credentials)]
    with CaptureQueriesContext(connection) as queries:
        update_rows(ApiCredential, ["last_check_at", "last_check_ok", "last_check_detail"], rows)
    statement = next(q["sql"] for q in queries if UPDATE.match(q["sql"]))
    assert "unnest" in statement and "marker-" not in statement
    assert ApiCredential.objects.get(pk=credentials[2].pk).last_check_detail == "marker-2-detail"
