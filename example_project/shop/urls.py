from django.urls import path

from .views import NotificationView, merchant

urlpatterns = [
    path("notifications/", NotificationView.as_view(), name="shop-notifications"),
    path("merchant/", merchant, name="shop-merchant"),
]
