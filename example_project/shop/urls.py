from django.urls import path

from .views import merchant

urlpatterns = [path("merchant/", merchant, name="shop-merchant")]
