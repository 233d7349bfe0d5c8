"""Read-only admin of the delivery log, with "Process again" for failures.

No page shows a body (buyer data, the provider's signature) or a secret.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_apiauth.models import NotificationDelivery
from django_apiauth.notifications.views import process_again

__all__ = ["NotificationDeliveryAdmin"]

REPROCESS_PERMISSION = "django_apiauth.reprocess_notificationdelivery"


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "credential",
        "scheme",
        "outcome",
        "notification_id",
        "reference",
        "reason",
        "remote_addr",
    )
    list_filter = ("outcome", "scheme", "credential", "received_at")
    search_fields = ("notification_id", "reference")
    date_hierarchy = "received_at"
    fields = (
        "received_at",
        "finished_at",
        "credential",
        "scheme",
        "outcome",
        "reason",
        "notification_id",
        "reference",
        "remote_addr",
        "handler",
        "error",
    )
    readonly_fields = fields
    actions = ["process_again"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # No page shows the body: its column is neither loaded nor decrypted per row.
        return super().get_queryset(request).defer("body")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # The log is pruned by apiauth_prune_notifications, by age, not by hand.
        return False

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REPROCESS_PERMISSION)

    @admin.action(description=_("Process again (failed deliveries)"), permissions=["reprocess"])
    def process_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        for delivery in queryset.order_by("pk"):
            processed, summary = process_again(delivery)
            level = messages.SUCCESS if processed else messages.WARNING
            self.message_user(request, summary, level)
