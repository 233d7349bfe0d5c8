"""Receiving the provider's notifications: :mod:`.verify`, :mod:`.body`, :mod:`.receive`,
:mod:`.deliveries` (exactly once), :mod:`.decorators` and :mod:`.views`, :mod:`.admin`.
"""

from django_apiauth.notifications.decorators import VerifiedNotificationMixin, verified_notification
from django_apiauth.notifications.receive import Notification

__all__ = ["Notification", "VerifiedNotificationMixin", "verified_notification"]
