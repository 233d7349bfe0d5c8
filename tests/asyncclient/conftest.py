"""Fixtures of the async client tests: the test kit's fake provider serves httpx too.

Async tests run on anyio's pytest plugin (it ships with anyio, which httpx
depends on): ``@pytest.mark.anyio``, on asyncio only.
"""

from __future__ import annotations

import pytest

from django_apiauth import tokens


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_token_memory():
    tokens.clear_process_memory()
    yield
    tokens.clear_process_memory()


@pytest.fixture
def apiauth(settings):
    """Edit ``settings.APIAUTH`` in place: ``apiauth(MAX_RETRIES=0)``."""

    def update(**values):
        settings.APIAUTH = {**settings.APIAUTH, **values}

    return update


@pytest.fixture
def credential(fake_provider, transactional_db):
    # Transactional: the async ORM runs in a thread with its own connection.
    return fake_provider.create_credential(name="shop")
