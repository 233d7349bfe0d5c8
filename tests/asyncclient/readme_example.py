# The example of the README section "From an async view", verbatim (run by test_readme_example).
from django.http import JsonResponse
from django.urls import path

from django_apiauth.client import aget_client


async def order_status(request, order_id):
    client = await aget_client("shop")  # the async ORM; a warm token costs no I/O
    response = await client.get("/api/echo", params={"order": order_id})
    response.raise_for_status()
    return JsonResponse({"order": order_id, "provider": response.json()})


urlpatterns = [path("orders/<str:order_id>/status/", order_status)]
