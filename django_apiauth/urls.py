"""``path("provider/", include("django_apiauth.urls"))`` serves the notification routes.

``notifications/<credential name>/payment/`` (hash scheme) and
``notifications/<credential name>/transfer/`` (JWT scheme): give the provider
these URLs and connect a receiver to ``django_apiauth.signals.notification_received``.
"""

from django.urls import path

from django_apiauth.notifications.views import PaymentNotificationView, TransferNotificationView

__all__ = ["app_name", "urlpatterns"]

app_name = "django_apiauth"

urlpatterns = [
    path(
        "notifications/<slug:credential>/payment/",
        PaymentNotificationView.as_view(),
        name="payment_notification",
    ),
    path(
        "notifications/<slug:credential>/transfer/",
        TransferNotificationView.as_view(),
        name="transfer_notification",
    ),
]
