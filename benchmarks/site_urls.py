"""A site's URLs for ``bench_first_call``: the admin, and the app's routes when it is installed."""

from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("admin/", admin.site.urls)]
if apps.is_installed("django_apiauth"):
    urlpatterns.append(path("apiauth/", include("django_apiauth.urls")))
