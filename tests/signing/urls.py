from django.urls import include, path

from . import views

urlpatterns = [
    path("shop/", include("tests.signing.example.urls")),
    path("recorded/", views.recorded),
    path("recorded/<int:order>/", views.recorded),
    path("recorded-cbv/", views.RecordedView.as_view()),
    path("unknown/", views.unknown_credential),
]
