"""What the example shop keeps about the provider's notifications."""

from __future__ import annotations

from django.db import models


class HandledNotification(models.Model):
    """One row per notification the shop's receiver handled.

    A real shop would mark the order named by ``reference`` as paid here. No
    unique constraint on purpose: django-apiauth guarantees one hand-over per
    notification, and a second one would show as a second row.
    """

    scheme = models.CharField(max_length=8)  # "hash" (payment) or "jwt" (transfer)
    notification_id = models.CharField(max_length=255, db_index=True)
    reference = models.CharField(max_length=255)
    handled_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.scheme} {self.notification_id} ({self.reference})"
