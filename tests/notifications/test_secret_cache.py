"""The intake keeps each credential's signature secret per process, revalidated by its stamp."""

from __future__ import annotations

import weakref

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_apiauth import stamps
from django_apiauth.models import ApiCredential
from tests.tokens.conftest import clock  # noqa: F401 (the fake clock fixture)
from tests.vectors import OTHER_SECRET

from .conftest import PAYMENT_URL, TRANSFER_URL, payment, post_json, transfer

pytestmark = [pytest.mark.urls("tests.notifications.urls"), pytest.mark.django_db]

TABLE = ApiCredential._meta.db_table


def credential_queries(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if TABLE in query["sql"]]


def edit_elsewhere(credential: ApiCredential, monkeypatch, **values) -> None:
    """Another process's save: the row changes and its stamp is bumped; this process is not told."""
    with monkeypatch.context() as patch:
        patch.setattr(stamps, "_watchers", weakref.WeakSet())
        for name, value in values.items():
            setattr(credential, name, value)
        credential.save()
    stamps.bump([credential.pk])  # what the on_commit hook does once the edit commits


def warm_up(client, clock) -> None:
    # The first loads also settle the stamp (a name seen for the first time is looked at again).
    for _ in range(3):
        assert post_json(client, PAYMENT_URL, payment()).status_code == 200
        clock.advance(1.0)


@pytest.mark.parametrize(("url", "build"), [(PAYMENT_URL, payment), (TRANSFER_URL, transfer)])
def test_a_warm_delivery_runs_no_credential_query(client, shop, clock, url, build):
    warm_up(client, clock)
    clock.advance(5.0)  # past the stamp interval: the stamp is read, the row is not

    with CaptureQueriesContext(connection) as captured:
        assert post_json(client, url, build()).status_code == 200

    assert credential_queries(captured) == []


def test_a_secret_edited_elsewhere_is_used_within_a_second(client, shop, clock, monkeypatch):
    warm_up(client, clock)
    edit_elsewhere(shop, monkeypatch, signature_secret=OTHER_SECRET)

    clock.advance(1.0)

    assert post_json(client, PAYMENT_URL, payment(secret=OTHER_SECRET)).status_code == 200
    assert post_json(client, PAYMENT_URL, payment()).status_code == 403


def test_a_deactivation_elsewhere_is_seen_within_a_second(client, shop, clock, monkeypatch):
    warm_up(client, clock)
    edit_elsewhere(shop, monkeypatch, is_active=False)

    clock.advance(1.0)

    assert post_json(client, PAYMENT_URL, payment()).status_code == 403


def test_an_edit_in_this_process_is_seen_at_once(client, shop, clock):
    warm_up(client, clock)
    shop.is_active = False
    shop.save()

    assert post_json(client, PAYMENT_URL, payment()).status_code == 403


def test_the_row_is_looked_at_every_second_while_the_shared_cache_is_down(
    client, shop, clock, monkeypatch
):
    warm_up(client, clock)
    monkeypatch.setattr(stamps, "read_stamp", lambda pk: (None, False))
    with connection.cursor() as cursor:  # an edit whose stamp could not be written
        cursor.execute(f"UPDATE {TABLE} SET is_active = %s WHERE id = %s", [False, shop.pk])

    clock.advance(1.0)

    assert post_json(client, PAYMENT_URL, payment()).status_code == 403


def test_a_secret_changed_behind_the_orms_back_is_used_within_a_minute(
    client, shop, clock, monkeypatch
):
    """No stamp, same ``updated_at``: the look once a minute compares the stored columns."""
    warm_up(client, clock)
    updated_at = ApiCredential.objects.values_list("updated_at", flat=True).get(pk=shop.pk)
    with monkeypatch.context() as patch:
        patch.setattr(stamps, "_watchers", weakref.WeakSet())
        shop.signature_secret = OTHER_SECRET
        shop.save()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET updated_at = %s WHERE id = %s", [updated_at, shop.pk])

    clock.advance(61.0)

    assert post_json(client, PAYMENT_URL, payment(secret=OTHER_SECRET)).status_code == 200
