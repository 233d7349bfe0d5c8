"""Receiving the provider's notifications: verify, log once, hand to the site's code.

The wing's rooms: :mod:`.verify` (one verifier per scheme), :mod:`.body` (reading
a request body), :mod:`.deliveries` (the delivery log and its claims: exactly
once), :mod:`.receive` (the decorator and the mixin), :mod:`.views` (the
ready-made routes of ``include("django_apiauth.urls")``) and :mod:`.admin`.
"""

from django_apiauth.notifications.receive import (
    Notification,
    VerifiedNotificationMixin,
    verified_notification,
)

__all__ = ["Notification", "VerifiedNotificationMixin", "verified_notification"]
