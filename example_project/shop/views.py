"""The merchant's side of the provider's notifications."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views import View

from django_apiauth.client import aget_client
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


async def merchant(request: HttpRequest) -> JsonResponse:
    """``GET /merchant/``: the provider's merchant record, from an async view.

    ``aget_client`` and ``AsyncApiClient`` share the sync client's token: no
    thread hop, one token for the whole fleet.
    """
    client = await aget_client(settings.SHOP_CREDENTIAL)
    response = await client.get("/api/merchant")
    if response.status_code != 200:
        return JsonResponse({"error": f"provider answered {response.status_code}"}, status=502)
    return JsonResponse(response.json())
