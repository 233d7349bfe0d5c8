"""Fixtures for the signature and notification tests."""

from __future__ import annotations

import pytest

from tests.vectors import SIGNATURE_SECRET


@pytest.fixture
def make_credential(db):
    """Create an ``ApiCredential``; every secret is set unless overridden."""
    from django_apiauth.models import ApiCredential

    def make(name: str = "shop", **fields):
        values = {
            "base_url": "https://provider.example",
            "api_key": "api-key-0123456789abcdef",
            "api_secret": "api-secret-0123456789abcdef",
            "signature_secret": SIGNATURE_SECRET,
            **fields,
        }
        return ApiCredential.objects.create(name=name, **values)

    return make
