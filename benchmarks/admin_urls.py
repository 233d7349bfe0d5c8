"""The admin's URLs, for benchmarks that drive it."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
