"""URLs of the sandbox provider (served as the whole site by ``server.start_sandbox``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("api/token", views.token, name="sandbox-token"),
    path("api/merchant", views.merchant, name="sandbox-merchant"),
    path("api/echo", views.echo, name="sandbox-echo"),
    path("api/dashboard/merchant", views.dashboard_merchant, name="sandbox-dashboard"),
    path("api/purchase_link/", views.purchase_link, name="sandbox-purchase-link"),
    path("sandbox/counters", views.counters, name="sandbox-counters"),
    path("sandbox/revoke", views.revoke, name="sandbox-revoke"),
    path("sandbox/notify", views.notify, name="sandbox-notify"),
]
