"""Receiving the provider's notifications: verify, log once, hand to the site's code.

:mod:`.verify` (one verifier per scheme), :mod:`.body` (reading a body),
:mod:`.receive` (the one pipeline), :mod:`.deliveries` (the log, exactly once),
:mod:`.decorators` and :mod:`.views` (the ways in), :mod:`.admin`.
"""

from django_apiauth.notifications.decorators import (
    VerifiedNotificationMixin,
    verified_notification,
)
from django_apiauth.notifications.receive import Notification

__all__ = ["Notification", "VerifiedNotificationMixin", "verified_notification"]
