"""The shop's own pages that talk to the provider."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from django_apiauth.client import aget_client


async def merchant(request: HttpRequest) -> JsonResponse:
    """``GET /merchant/``: the provider's merchant record, from an async view.

    ``aget_client`` and ``AsyncApiClient`` share the sync client's token: no
    thread hop, one token for the whole fleet.
    """
    client = await aget_client(settings.SHOP_CREDENTIAL)
    response = await client.get("/api/merchant")
    if response.status_code != 200:
        return JsonResponse({"error": f"provider answered {response.status_code}"}, status=502)
    return JsonResponse(response.json())
