"""Exactly once under concurrency: the database's unique claim is the only arbiter."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from django_apiauth.models import NotificationDelivery

from .conftest import PAYMENT_URL, payment

pytestmark = [pytest.mark.urls("tests.notifications.urls")]

Outcome = NotificationDelivery.Outcome


def deliver_concurrently(body: dict, copies: int) -> list[int]:
    """POST ``copies`` deliveries of ``body`` at once from as many threads."""
    start = threading.Barrier(copies)
    statuses: list[int] = []

    def deliver():
        start.wait()
        try:
            response = Client().post(
                PAYMENT_URL, data=json.dumps(body), content_type="application/json"
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_redeliveries_reach_the_receiver_once(shop, received):
    body = payment()

    statuses = deliver_concurrently(body, copies=8)

    assert len(received.calls) == 1
    # The others were duplicates (200) or arrived while the first was in flight (503, retried).
    assert set(statuses) <= {200, 503}
    assert NotificationDelivery.objects.filter(outcome=Outcome.ACCEPTED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_different_notifications_all_arrive(shop, received):
    bodies = [payment() for _ in range(6)]
    threads = [threading.Thread(target=deliver_concurrently, args=(b, 1)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(call["data"]["id"] for call in received.calls) == sorted(b["id"] for b in bodies)


@pytest.mark.django_db(transaction=True)
def test_a_redelivery_in_another_thread_is_a_duplicate(shop, received):
    body = payment()
    deliver_concurrently(body, copies=1)

    statuses = deliver_concurrently(body, copies=1)

    assert statuses == [200]
    assert len(received.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_the_claim_holds_without_any_cache(shop, received, settings):
    # A cache that fails every call: the exactly-once rule never asks it.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    body = payment()
    deliver_concurrently(body, copies=1)
    deliver_concurrently(body, copies=1)

    assert len(received.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_the_unique_constraint_refuses_a_second_holder(shop):
    from django.db import IntegrityError

    NotificationDelivery.objects.create(credential="shop", outcome=Outcome.ACCEPTED, claim="k" * 64)

    with pytest.raises(IntegrityError):
        NotificationDelivery.objects.create(
            credential="shop", outcome=Outcome.PROCESSING, claim="k" * 64
        )


def post(body: dict) -> int:
    try:
        return (
            Client()
            .post(PAYMENT_URL, data=json.dumps(body), content_type="application/json")
            .status_code
        )
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_receiver_slower_than_the_claim_timeout_commits_once(shop, settings):
    """Issue 18: a live, slow receiver is never overtaken by the provider's retry."""
    from django_apiauth.signals import notification_received

    settings.APIAUTH = {**settings.APIAUTH, "NOTIFICATION_CLAIM_TIMEOUT": 1}
    running, release = threading.Event(), threading.Event()

    def slow_credit(sender, data, **kwargs):
        # One committed effect per run: a row of the delivery log's own table would do,
        # but an explicit table keeps the assertion about the site's writes.
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO credits (payment) VALUES (%s)", [data["id"]])
        running.set()
        release.wait(10)

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS credits (payment text)")
    notification_received.connect(slow_credit, dispatch_uid="slow-credit")
    try:
        body = payment()
        first = []
        worker = threading.Thread(target=lambda: first.append(post(body)))
        worker.start()
        assert running.wait(10)
        threading.Event().wait(1.5)  # past NOTIFICATION_CLAIM_TIMEOUT, still running
        during = post(body)
        release.set()
        worker.join()
        after = post(body)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM credits")
            credits = cursor.fetchone()[0]
    finally:
        notification_received.disconnect(dispatch_uid="slow-credit")
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS credits")

    assert (first, during, after) == ([200], 503, 200)
    assert credits == 1
    assert NotificationDelivery.objects.filter(outcome=Outcome.ACCEPTED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_connection_dies_leaves_the_notification_to_the_retry(shop, received):
    """The lock and the half-done writes go with the dead worker's connection."""
    from django.db import transaction

    from django_apiauth.notifications.deliveries import claim_key

    body = payment()
    key = claim_key("shop", "hash", f"id:{body['id']}")
    holding, dies = threading.Event(), threading.Event()

    def worker():  # takes the notification's lock, then its connection dies
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [int(key[:16], 16) - 2**63])
                holding.set()
                dies.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert holding.wait(10)
    during = post(body)
    dies.set()
    thread.join()

    assert (during, post(body)) == (503, 200)
    assert len(received.calls) == 1
