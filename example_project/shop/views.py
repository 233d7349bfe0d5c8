"""The merchant's side of the provider's notifications."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views import View

from django_apiauth.notifications import VerifiedNotificationMixin

logger = logging.getLogger(__name__)


class NotificationView(VerifiedNotificationMixin, View):
    """``POST /notifications/``: a payment (hash) or transfer (JWT) notification.

    The mixin refuses anything whose signature does not verify (403) before
    ``post`` runs; a real shop would update the order named by ``reference``.
    """

    def get_notification_credential(self) -> str:
        return settings.SHOP_CREDENTIAL

    def post(self, request: HttpRequest) -> JsonResponse:
        notification = request.notification  # type: ignore[attr-defined]
        reference = notification.data.get("reference", "")
        logger.info("%s notification received for %s", notification.scheme, reference)
        return JsonResponse({"scheme": notification.scheme, "reference": reference})
