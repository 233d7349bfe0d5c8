"""What an accepted delivery costs the database: the log row is one statement, written in
the transaction the receiver's own writes share, and never updated afterwards."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_apiauth.models import NotificationDelivery
from django_apiauth.signals import notification_received

from .conftest import PAYMENT_URL, TRANSFER_URL, payment, post_json, transfer

pytestmark = [pytest.mark.urls("tests.notifications.urls"), pytest.mark.django_db]

TABLE = NotificationDelivery._meta.db_table
ROUTES = pytest.mark.parametrize(
    ("url", "build"), [(PAYMENT_URL, payment), (TRANSFER_URL, transfer)]
)


def log_statements(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if TABLE in query["sql"]]


@ROUTES
def test_the_receiver_runs_inside_the_transaction_that_writes_the_log_row(client, shop, url, build):
    seen = []

    def receiver(sender, **kwargs):
        accepted = NotificationDelivery.objects.filter(outcome="accepted")
        seen.append((connection.in_atomic_block, accepted.count()))

    notification_received.connect(receiver, dispatch_uid="in-transaction")
    try:
        with CaptureQueriesContext(connection) as captured:
            assert post_json(client, url, build()).status_code == 200
    finally:
        notification_received.disconnect(dispatch_uid="in-transaction")

    assert seen == [(True, 1)]  # its row is already written, in the open transaction
    assert not any(sql.lstrip().upper().startswith("UPDATE") for sql in log_statements(captured))
    row = NotificationDelivery.objects.get()
    assert (row.outcome, row.finished_at is not None) == ("accepted", True)


@pytest.mark.postgres
@ROUTES
def test_on_postgresql_the_lock_the_duplicate_check_and_the_log_row_are_one_statement(
    client, shop, received, url, build
):
    with CaptureQueriesContext(connection) as captured:
        assert post_json(client, url, build()).status_code == 200

    statements = log_statements(captured)
    assert len(statements) == 1, statements
    assert "pg_try_advisory_xact_lock" in statements[0]
    assert 'ON CONFLICT ("claim") DO NOTHING' in statements[0]
    assert len(received.calls) == 1


@pytest.mark.postgres
def test_on_postgresql_a_redelivery_is_answered_from_the_same_statement(client, shop, received):
    body = payment()
    assert post_json(client, PAYMENT_URL, body).status_code == 200

    with CaptureQueriesContext(connection) as captured:
        again = post_json(client, PAYMENT_URL, body)

    assert again.content == b"notification already processed"
    assert len(received.calls) == 1
    first = NotificationDelivery.objects.get(outcome="accepted")
    duplicate = NotificationDelivery.objects.get(outcome="duplicate")
    assert duplicate.reason == f"already accepted (delivery {first.pk})"
    assert duplicate.claim is None
    assert "pg_try_advisory_xact_lock" in log_statements(captured)[0]


@pytest.mark.postgres
def test_a_row_id_already_taken_fails_the_delivery_instead_of_passing_for_a_duplicate(
    client, shop, received, caplog
):
    """Only the claim key makes a duplicate: a log whose id sequence is behind its rows (a
    fixture loaded with explicit ids) must not answer 200 to a notification never processed."""
    assert post_json(client, PAYMENT_URL, payment()).status_code == 200
    taken = NotificationDelivery.objects.get().pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [TABLE, taken])
    body = payment()

    first = post_json(client, PAYMENT_URL, body)  # its row would take the id `taken`
    retried = post_json(client, PAYMENT_URL, body)  # the provider retries: the next id is free

    assert first.status_code == 500
    assert retried.status_code == 200
    assert retried.content == b"notification accepted"
    assert len(received.calls) == 2  # the first notification, then this one, once
