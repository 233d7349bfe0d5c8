"""The ready-made notification routes: verify, log, deduplicate, send the signals.

Served by ``include("django_apiauth.urls")``; a site writes no view, only a
receiver of :data:`django_apiauth.signals.notification_received`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from .notifications import SIGNALS_HANDLER, Notification, Scheme, handle
from .signals import notification_received


def send_received(notification: Notification) -> None:
    """Hand a first delivery to the receivers; a receiver's exception propagates."""
    notification_received.send(
        sender=Notification,
        credential=notification.credential,
        scheme=notification.scheme,
        data=notification.data,
        notification=notification,
    )


@method_decorator(csrf_exempt, name="dispatch")
class NotificationView(View):
    """``POST notifications/<credential>/<kind>/`` for one scheme.

    Synchronous on purpose: under ASGI Django runs it in a thread, and the
    receivers' database writes then share the transaction that marks the
    delivery accepted (async receivers are run by ``Signal.send`` too).
    """

    scheme: ClassVar[Scheme]
    http_method_names: ClassVar[list[str]] = ["post"]

    def post(self, request: HttpRequest, credential: str, **kwargs: Any) -> HttpResponse:
        def work(notification: Notification) -> None:
            send_received(notification)

        return handle(request, credential, (self.scheme,), work, handler=SIGNALS_HANDLER)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any):
        # Django's own answer, without its warning log line.
        return HttpResponseNotAllowed(["POST"])


class PaymentNotificationView(NotificationView):
    """Payment notifications: the hash scheme."""

    scheme = "hash"


class TransferNotificationView(NotificationView):
    """Transfer notifications: the JWT scheme."""

    scheme = "jwt"
