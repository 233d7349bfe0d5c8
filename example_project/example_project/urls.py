"""URLs of the example merchant site: the admin, the shop and django-apiauth's notification routes.

The provider is given ``/provider/notifications/<credential>/payment/`` and
``/provider/notifications/<credential>/transfer/``; ``shop.receivers`` handles
what they accept.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("provider/", include("django_apiauth.urls")),
    path("", include("shop.urls")),
]
