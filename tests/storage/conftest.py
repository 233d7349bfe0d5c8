"""Fixtures of the storage tests (``staging_credential`` is the root conftest's)."""

import pytest

from django_apiauth.crypto import generate_key


@pytest.fixture
def new_key():
    return generate_key()
