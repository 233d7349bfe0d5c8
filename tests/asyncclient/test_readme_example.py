"""The README's "From an async view" example works, through Django's ASGI handler."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

pytestmark = [pytest.mark.anyio, pytest.mark.urls("tests.asyncclient.readme_example")]


async def test_the_readme_async_view_calls_the_provider_with_the_shared_token(
    committed_credential, fake_provider
):
    first = await AsyncClient().get("/orders/A-17/status/")
    second = await AsyncClient().get("/orders/A-18/status/")

    assert first.status_code == second.status_code == 200
    assert first.json()["provider"]["query"] == {"order": "A-17"}
    assert fake_provider.token_requests == 1
