"""A site's URLs as the docs show them, for ``bench_notification_delivery.py``."""

from django.urls import include, path

urlpatterns = [path("provider/", include("django_apiauth.urls"))]
