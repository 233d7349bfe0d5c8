"""The delivery log's claims against a model: exactly once, nothing lost (issue 18), on PostgreSQL.

Rules: the provider delivers a notification, redelivers it, the site's receiver
is slow (held past ``NOTIFICATION_CLAIM_TIMEOUT`` while a redelivery or a
"Process again" arrives from another thread) or crashes (an exception after its
write), and an operator processes an error row again. The receiver inserts one
row per run into a table of its own, inside the delivery's transaction: that
row is the "effect" whose count the model checks.

What must hold, whatever the order:

* each notification's effects are committed at most once, and exactly once
  while an ``accepted`` row says it was processed (the row and the effects
  commit together);
* answers say the truth: 200 only once the effects are committed, 503 while
  another delivery runs, 500 after a crash (and then no effect);
* nothing is lost: once the provider keeps retrying, every notification ends
  accepted with its effect committed.

``make test`` runs a bounded number of examples; ``APIAUTH_LONG_MODEL_RUN=1``
runs thousands.
"""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from django_apiauth.models import NotificationDelivery
from django_apiauth.notifications.views import process_again
from django_apiauth.signals import notification_received
from tests.concurrency.model_settings import model_settings
from tests.notifications.conftest import PAYMENT_URL, payment

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.notifications.urls"),
]

MODEL_SETTINGS = model_settings(examples=15, steps=12, long_examples=1000, long_steps=30)

Outcome = NotificationDelivery.Outcome
CLAIM_TIMEOUT = 0.05  # seconds; the slow receiver outlives it
TALLY = {"deliveries": 0, "deferred": 0, "crashed": 0, "again": 0, "examples": 0}


class Receiver:
    """The site's code: one effect row per run; told per notification to crash or be slow."""

    def __init__(self) -> None:
        self.crash: set[str] = set()
        self.slow: dict[str, tuple[threading.Event, threading.Event]] = {}

    def __call__(self, sender, data, **kwargs):
        payment_id = data["id"]
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO model_effects (payment) VALUES (%s)", [payment_id])
        held = self.slow.get(payment_id)
        if held is not None:
            running, release = held
            running.set()
            assert release.wait(10), "the slow receiver was never released"
        if payment_id in self.crash:
            raise RuntimeError("the ERP is down")


def post(body: dict) -> int:
    try:
        response = Client().post(
            PAYMENT_URL, data=json.dumps(body), content_type="application/json"
        )
        return response.status_code
    finally:
        connection.close()


def effects() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT payment, count(*) FROM model_effects GROUP BY payment")
        return dict(cursor.fetchall())


def accepted() -> dict[str, int]:
    rows = NotificationDelivery.objects.filter(outcome=Outcome.ACCEPTED)
    counts: dict[str, int] = {}
    for notification_id in rows.values_list("notification_id", flat=True):
        counts[notification_id] = counts.get(notification_id, 0) + 1
    return counts


class ClaimLog(RuleBasedStateMachine):
    notifications = Bundle("notifications")

    def __init__(self, receiver: Receiver) -> None:
        super().__init__()
        self.receiver = receiver

    @initialize()
    def start(self):
        NotificationDelivery.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM model_effects")
        self.receiver.crash.clear()
        self.receiver.slow.clear()
        self.bodies: dict[str, dict] = {}
        self.done: set[str] = set()  # answered 200 once: the model says "processed"

    def teardown(self):
        # The provider retries whatever was not answered 200, until it is.
        self.receiver.crash.clear()
        for payment_id, body in self.bodies.items():
            if payment_id not in self.done:
                assert post(body) == 200
                self.done.add(payment_id)
        assert effects() == dict.fromkeys(self.bodies, 1)
        assert accepted() == dict.fromkeys(self.bodies, 1)
        TALLY["examples"] += 1

    def answered(self, payment_id: str, status: int) -> None:
        TALLY["deliveries"] += 1
        assert status in {200, 500, 503}, status
        if status == 200:
            self.done.add(payment_id)
        elif status == 503:
            TALLY["deferred"] += 1
        else:
            TALLY["crashed"] += 1

    @rule(target=notifications)
    def new_notification(self):
        body = payment()
        self.bodies[body["id"]] = body
        return body["id"]

    @rule(payment_id=notifications, crash=st.booleans())
    def deliver(self, payment_id, crash):
        """A delivery or a redelivery; the receiver crashes after its write if told to."""
        (self.receiver.crash.add if crash else self.receiver.crash.discard)(payment_id)
        status = post(self.bodies[payment_id])
        if payment_id in self.done:
            assert status == 200  # a redelivery after success: never run again
        else:
            assert status == (500 if crash else 200)
        self.answered(payment_id, status)

    @rule(
        payment_id=notifications,
        crash=st.booleans(),
        meanwhile=st.sampled_from(["redeliver", "process_again", "other"]),
    )
    def slow_receiver(self, payment_id, crash, meanwhile):
        """The receiver runs past the claim timeout while something else arrives."""
        (self.receiver.crash.add if crash else self.receiver.crash.discard)(payment_id)
        running, release = threading.Event(), threading.Event()
        self.receiver.slow[payment_id] = (running, release)
        first: list[int] = []
        worker = threading.Thread(target=lambda: first.append(post(self.bodies[payment_id])))
        worker.start()
        try:
            # It does not run at all when the notification was processed already.
            while not running.wait(0.005) and worker.is_alive():
                pass
            ran = running.is_set()
            threading.Event().wait(CLAIM_TIMEOUT * 2)
            if meanwhile == "redeliver":
                during = post(self.bodies[payment_id])
                if ran:
                    assert during == 503
                self.answered(payment_id, during)
            elif meanwhile == "process_again":
                self.process_again_now()
            else:  # another notification is not held up by this one
                other = payment()
                self.bodies[other["id"]] = other
                self.answered(other["id"], post(other))
                assert other["id"] in self.done
        finally:
            release.set()
            worker.join()
            del self.receiver.slow[payment_id]
        already = payment_id in self.done
        self.answered(payment_id, first[0])
        if not ran:
            assert already and first == [200]
        else:
            assert first == [500 if crash else 200]

    def process_again_now(self) -> None:
        for row in NotificationDelivery.objects.filter(outcome=Outcome.ERROR).order_by("pk")[:1]:
            if row.notification_id not in self.receiver.slow:
                self.receiver.crash.discard(row.notification_id)  # the ERP is back
            processed, _summary = process_again(row)
            connection.close()
            TALLY["again"] += 1
            if processed:
                assert row.notification_id not in self.done
                self.done.add(row.notification_id)

    @rule()
    def process_an_error_again(self):
        """An operator's "Process again" on the oldest error row."""
        self.process_again_now()

    @invariant()
    def effects_commit_once_and_with_their_accepted_row(self):
        if not hasattr(self, "bodies"):
            return
        committed = effects()
        assert all(count == 1 for count in committed.values()), committed
        assert committed == accepted()
        assert set(committed) == self.done


@pytest.fixture
def effects_table():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS model_effects (payment text)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS model_effects")


def test_the_claim_log_processes_each_notification_exactly_once(shop, effects_table, settings):
    settings.APIAUTH = {**settings.APIAUTH, "NOTIFICATION_CLAIM_TIMEOUT": CLAIM_TIMEOUT}
    receiver = Receiver()
    notification_received.connect(receiver, weak=False, dispatch_uid="claim-model")
    try:
        run_state_machine_as_test(lambda: ClaimLog(receiver), settings=MODEL_SETTINGS)
    finally:
        notification_received.disconnect(dispatch_uid="claim-model")
    print("claim model:", TALLY)
    assert TALLY["deferred"] > 0 and TALLY["again"] > 0  # the concurrent paths were exercised
