"""Signals sent for the provider's notifications (connect a receiver, write no view).

``notification_received``
    A notification whose signature verified, on its first successful delivery
    (a redelivery of an accepted one is not sent again). Keyword arguments:
    ``credential`` (the credential's name), ``scheme`` (``"hash"`` or ``"jwt"``),
    ``data`` (what the signature covers) and ``notification`` (the full
    :class:`~django_apiauth.notifications.receive.Notification`, with ``unsigned``).
    A receiver that raises marks the delivery ``error`` and the provider is
    answered 500, so it retries; the retry is processed again.

``notification_refused``
    A delivery that was refused (malformed, wrong signature, wrong scheme,
    unknown credential...). Keyword arguments: ``credential``, ``scheme``
    (``""`` when the body was unreadable) and ``reason`` (fixed text, never a
    value from the body). Receivers' exceptions are logged, never raised.
"""

from django.dispatch import Signal

__all__ = ["notification_received", "notification_refused"]

notification_received = Signal()
notification_refused = Signal()
