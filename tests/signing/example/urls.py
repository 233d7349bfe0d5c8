# shop/urls.py — the README example.
from django.urls import path

from . import views

urlpatterns = [
    path("notifications/payment/", views.payment_notification),
    path("notifications/transfer/", views.TransferNotificationView.as_view()),
]
