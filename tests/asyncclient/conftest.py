"""Fixtures of the async client tests: the test kit's fake provider serves httpx too.

Async tests run on anyio's pytest plugin (it ships with anyio, which httpx
depends on): ``@pytest.mark.anyio``, on asyncio only.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def _async_orm_connection(anyio_backend):
    """Close the connection the async ORM opened in its thread, after the test.

    Django runs ``aget()`` & co. in asgiref's thread-sensitive executor, whose
    connection would otherwise stay open and keep PostgreSQL from dropping the
    test database.
    """
    from asgiref.sync import sync_to_async
    from django.db import connections

    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def committed_credential(fake_provider, transactional_db, _async_orm_connection):
    """The root ``credential``, committed: the async ORM reads it from a thread of its own."""
    return fake_provider.create_credential(name="shop")
