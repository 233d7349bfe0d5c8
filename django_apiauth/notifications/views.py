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

from django_apiauth.exceptions import ConfigurationError
from django_apiauth.models import NotificationDelivery
from django_apiauth.notifications.body import MalformedBody, parse_stored
from django_apiauth.notifications.receive import (
    SIGNALS_HANDLER,
    Notification,
    Refused,
    Scheme,
    handle,
    process_verified,
    schemes_of,
    verify_body,
)
from django_apiauth.signals import notification_received

__all__ = ["PaymentNotificationView", "TransferNotificationView", "process_again"]


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
        return handle(request, credential, (self.scheme,), send_received, handler=SIGNALS_HANDLER)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any):
        # Django's own answer, without its warning log line.
        return HttpResponseNotAllowed(["POST"])


class PaymentNotificationView(NotificationView):
    """Payment notifications: the hash scheme."""

    scheme = "hash"


class TransferNotificationView(NotificationView):
    """Transfer notifications: the JWT scheme."""

    scheme = "jwt"


def process_again(delivery: NotificationDelivery) -> tuple[bool, str]:
    """Run a failed delivery of the ready-made routes through the receivers again.

    The stored raw body is verified again (times excepted) and processed like a new
    delivery, so one the provider's retry processed meanwhile is not handed over twice.
    Returns whether it was processed and a one-line summary; never raises for a bad one.
    """
    from django_apiauth.notifications.deliveries import Inbound, Outcome

    label = f"delivery {delivery.pk}"
    if delivery.outcome != Outcome.ERROR:
        return False, f"{label}: not a failed delivery ({delivery.outcome})"
    if delivery.handler != SIGNALS_HANDLER:
        return (
            False,
            f"{label}: received by a custom view; only the provider's retry can run it again",
        )
    try:
        body = parse_stored(delivery.body)
        notification, secret = verify_body(
            body, delivery.credential, schemes_of(delivery.scheme), check_times=False
        )
    except (MalformedBody, Refused, ConfigurationError) as err:
        return False, f"{label}: cannot be processed again ({err})"
    inbound = Inbound(delivery.credential, None, SIGNALS_HANDLER, delivery.body, delivery.body_size)
    outcome, _result, error = process_verified(
        inbound, notification, lambda: send_received(notification), secret
    )
    if outcome == Outcome.DUPLICATE:
        return False, f"{label}: already processed meanwhile, not handed over again"
    if outcome == Outcome.DEFERRED:
        return False, f"{label}: being processed by another delivery right now"
    if error is not None:
        return False, f"{label}: failed again (see the newest error delivery)"
    return True, f"{label}: processed again"
