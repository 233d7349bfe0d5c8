"""Fixtures: receivers recording the signals, notification builders (``shop`` is the root's)."""

from __future__ import annotations

import itertools
import json

import pytest

from django_apiauth.signals import notification_received, notification_refused
from django_apiauth.signing import notification_digest
from tests.helpers import provider_token
from tests.vectors import SIGNATURE_SECRET

from . import views

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _forget_received():
    views.RECEIVED.clear()
    yield
    views.RECEIVED.clear()


class Recorder:
    """A signal receiver that records its calls (and can be told to fail)."""

    def __init__(self) -> None:
        self.__qualname__ = "Recorder"  # Django names a failing receiver in its log line
        self.calls: list[dict] = []
        self.fail_with: Exception | None = None

    def __call__(self, sender, signal, **kwargs):
        self.calls.append(kwargs)
        if self.fail_with is not None:
            raise self.fail_with


@pytest.fixture
def received():
    recorder = Recorder()
    notification_received.connect(recorder, weak=False)
    yield recorder
    notification_received.disconnect(recorder)


@pytest.fixture
def refused():
    recorder = Recorder()
    notification_refused.connect(recorder, weak=False)
    yield recorder
    notification_refused.disconnect(recorder)


def payment(secret: str = SIGNATURE_SECRET, *, php_booleans: bool = False, **fields) -> dict:
    """A signed payment notification (hash scheme); ``fields`` override the defaults."""
    body = {
        "created_at": "2024-05-01T10:00:00Z",
        "error": "",
        "id": f"pay_{next(_ids)}",
        "reference": "order-42",
        "sandbox": "true",
        "status": "completed",
        "metadata": {"cart": 7},
        **fields,
    }
    body["signature"] = notification_digest(body, secret, php_booleans=php_booleans)
    return body


def transfer(secret: str = SIGNATURE_SECRET, **claims) -> dict:
    """A signed transfer notification (JWT scheme), flat as the provider sends it."""
    payload = {
        "reference": "order-42",
        "transfer_order_item_uid": f"tri_{next(_ids)}",
        "amount_cents": 10000,
        **claims,
    }
    return {"signature": provider_token(payload, secret)}


def post_json(client, url, body, **kwargs):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", **kwargs)


PAYMENT_URL = "/provider/notifications/shop/payment/"
TRANSFER_URL = "/provider/notifications/shop/transfer/"
