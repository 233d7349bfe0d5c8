"""Views that record whether they ran, to prove a refused notification never reaches them."""

from __future__ import annotations

from django.http import HttpResponse
from django.views import View

from django_apiauth.notifications import VerifiedNotificationMixin, verified_notification

#: Every ``request.notification`` a view received, in order; cleared by a fixture.
RECEIVED: list = []


@verified_notification("shop")
def recorded(request, *args, **kwargs):
    RECEIVED.append(request.notification)
    return HttpResponse(f"ran with {sorted(kwargs.items())}")


class RecordedView(VerifiedNotificationMixin, View):
    notification_credential = "shop"

    def post(self, request, *args, **kwargs):
        RECEIVED.append(request.notification)
        return HttpResponse("ran")


@verified_notification("nobody")
def unknown_credential(request):
    RECEIVED.append(request.notification)
    return HttpResponse("ran")
