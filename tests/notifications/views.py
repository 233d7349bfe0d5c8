"""Custom views on the notification pipeline (the decorator and the mixin, sync and async)."""

from __future__ import annotations

from django.http import HttpResponse
from django.views import View

from django_apiauth.notifications import VerifiedNotificationMixin, verified_notification

#: Every ``request.notification`` a view received, in order; cleared by a fixture.
RECEIVED: list = []


@verified_notification("shop", scheme="hash")
def hash_only(request):
    RECEIVED.append(request.notification)
    return HttpResponse("hash ran")


@verified_notification("shop", scheme="jwt")
def jwt_only(request):
    RECEIVED.append(request.notification)
    return HttpResponse("jwt ran")


@verified_notification("shop")
async def async_view(request):
    RECEIVED.append(request.notification)
    return HttpResponse("async ran")


class AsyncView(VerifiedNotificationMixin, View):
    notification_credential = "shop"
    notification_scheme = "hash"

    async def post(self, request):
        RECEIVED.append(request.notification)
        return HttpResponse("async cbv ran")


@verified_notification("shop", scheme="hash")
def failing_view(request):
    RECEIVED.append(request.notification)
    raise RuntimeError("the shop's code broke")


@verified_notification("shop", scheme="hash")
def declining_view(request):
    RECEIVED.append(request.notification)
    return HttpResponse("order locked, later", status=409)
