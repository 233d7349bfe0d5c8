"""Under ASGI: the decorator, the mixin and the ready-made routes with Django's AsyncClient."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from django_apiauth.models import NotificationDelivery

from . import views
from .conftest import PAYMENT_URL, TRANSFER_URL, payment, transfer

pytestmark = [pytest.mark.urls("tests.notifications.urls"), pytest.mark.django_db(transaction=True)]


async def apost(url, body):
    return await AsyncClient().post(url, data=json.dumps(body), content_type="application/json")


def post(url, body):
    """One request through Django's ASGI handler, driven from this (sync) test."""
    return async_to_sync(apost)(url, body)


def test_an_async_decorated_view_receives_a_notification(shop):
    response = post("/async-view/", payment())

    assert response.status_code == 200
    assert response.content == b"async ran"
    assert views.RECEIVED[0].scheme == "hash"


def test_an_async_view_runs_once_for_a_redelivery(shop):
    body = transfer()

    post("/async-view/", body)
    again = post("/async-view/", body)

    assert again.status_code == 200
    assert len(views.RECEIVED) == 1


def test_an_async_class_based_view_with_the_mixin_receives_a_notification(shop):
    response = post("/async-cbv/", payment())

    assert response.status_code == 200
    assert response.content == b"async cbv ran"


def test_an_async_class_based_view_refuses_a_forgery(shop):
    from tests.vectors import OTHER_SECRET

    response = post("/async-cbv/", payment(secret=OTHER_SECRET))

    assert response.status_code == 403
    assert views.RECEIVED == []


def test_the_ready_made_routes_work_under_asgi(shop, received):
    assert post(PAYMENT_URL, payment()).status_code == 200
    assert post(TRANSFER_URL, transfer()).status_code == 200

    assert [call["scheme"] for call in received.calls] == ["hash", "jwt"]


def test_an_async_receiver_is_awaited_by_the_ready_made_routes(shop):
    from django_apiauth.signals import notification_received

    seen = []

    async def receiver(sender, **kwargs):
        seen.append(kwargs["data"]["reference"])

    notification_received.connect(receiver, weak=False)
    try:
        assert post(PAYMENT_URL, payment()).status_code == 200
    finally:
        notification_received.disconnect(receiver)

    assert seen == ["order-42"]


def test_an_async_view_that_raises_marks_the_delivery_error(shop):
    async def boom(request):
        raise RuntimeError("async shop code broke")

    from django_apiauth.notifications import verified_notification

    view = verified_notification("shop")(boom)
    from django.test import AsyncRequestFactory

    request = AsyncRequestFactory().post(
        "/x/", data=json.dumps(payment()), content_type="application/json"
    )

    with pytest.raises(RuntimeError):
        async_to_sync(view)(request)
    outcome = NotificationDelivery.objects.get().outcome
    assert outcome == NotificationDelivery.Outcome.ERROR
