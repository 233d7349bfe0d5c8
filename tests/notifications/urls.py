from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("provider/", include("django_apiauth.urls")),
    path("admin/", admin.site.urls),
    path("hash-only/", views.hash_only),
    path("jwt-only/", views.jwt_only),
    path("async-view/", views.async_view),
    path("async-cbv/", views.AsyncView.as_view()),
    path("failing-view/", views.failing_view),
    path("declining-view/", views.declining_view),
]
