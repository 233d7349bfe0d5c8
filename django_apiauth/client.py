"""The service clients: ``get_client``/``ApiClient`` and ``aget_client``/``AsyncApiClient``.

Usage::

    from django_apiauth.client import get_client

    client = get_client("merchant-fr")
    response = client.get("/api/merchants/me")            # Bearer token, shared fleet-wide
    response = client.get("/api/dashboard", auth="basic")  # dashboard login

The async pair lives in :mod:`django_apiauth.clients.asynchronous` and is
imported on first use: it needs httpx (the ``async`` extra), which the sync
client must not require.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_apiauth.clients.check import CheckResult
from django_apiauth.clients.sync import ApiClient, get_client

if TYPE_CHECKING:
    from django_apiauth.clients.asynchronous import AsyncApiClient, aget_client

__all__ = ["ApiClient", "AsyncApiClient", "CheckResult", "aget_client", "get_client"]


def __getattr__(name: str) -> Any:
    if name in ("AsyncApiClient", "aget_client"):
        from django_apiauth.clients import asynchronous

        return getattr(asynchronous, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
