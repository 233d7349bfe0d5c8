"""The shop's receiver of the provider's notifications (connected in ``ShopConfig.ready``).

The ready-made routes of ``include("django_apiauth.urls")`` verify, log and
deduplicate each delivery, then send ``notification_received`` once per
notification: the shop writes no view.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.dispatch import receiver

from django_apiauth.notifications import Notification
from django_apiauth.signals import notification_received

from .models import HandledNotification

logger = logging.getLogger(__name__)


def notification_id(scheme: str, data: dict[str, Any]) -> str:
    """The provider's id of a notification: ``id`` (payments), the transfer item's uid."""
    if scheme == "hash":
        return data["id"]
    return str(data.get("transfer_order_item_uid", ""))


@receiver(notification_received, dispatch_uid="shop.receivers.on_notification")
def on_notification(
    sender: Any,
    *,
    credential: str,
    scheme: str,
    data: dict[str, Any],
    notification: Notification,
    **kwargs: Any,
) -> None:
    """Record a verified notification of the shop's credential (runs once per notification).

    It runs inside the transaction that marks the delivery accepted: if it
    raised, its row would be rolled back and the provider's retry handled again.
    """
    if credential != settings.SHOP_CREDENTIAL:
        return
    # data holds only what the signature covers; notification.unsigned (metadata...) does not.
    HandledNotification.objects.create(
        scheme=scheme,
        notification_id=notification_id(scheme, data),
        reference=str(data.get("reference", "")),
    )
    logger.info("%s notification handled for %s", scheme, data.get("reference", ""))
