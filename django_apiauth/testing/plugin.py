"""The test kit's pytest plugin, loaded through the ``pytest11`` entry point.

Installing ``django-apiauth[testing]`` makes these fixtures available in every
test; nothing to import or list in ``conftest.py``:

- ``fake_provider``: a started :class:`~.fake.FakeProvider` at
  ``https://provider.test`` (in-process, no socket);
- ``sandbox_provider``: a live :class:`~.server.SandboxServer` on a free
  loopback port (clients need ``APIAUTH["ALLOW_INSECURE_LOOPBACK"] = True``);
- ``apiauth_token_cache``: the alias of a private in-memory token cache.

Both providers use ``apiauth_token_cache``: for the test's duration
``APIAUTH["CACHE_ALIAS"]`` points at a fresh in-memory cache, emptied
afterwards, so no token, lease or remembered failure is left in your cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .isolation import private_token_cache

if TYPE_CHECKING:
    from .fake import FakeProvider
    from .server import SandboxServer

__all__ = ["apiauth_token_cache", "fake_provider", "sandbox_provider"]


@pytest.fixture
def apiauth_token_cache() -> Iterator[str]:
    """The alias of the private token cache ``APIAUTH["CACHE_ALIAS"]`` points at."""
    with private_token_cache() as alias:
        yield alias


@pytest.fixture
def fake_provider(apiauth_token_cache: str) -> Iterator[FakeProvider]:
    """A started ``FakeProvider`` at ``https://provider.test``, stopped afterwards."""
    from .fake import FakeProvider

    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def sandbox_provider(apiauth_token_cache: str) -> Iterator[SandboxServer]:
    """A running sandbox provider on a free loopback port, stopped afterwards.

    ``.url``, ``.account`` (api_key, api_secret, dashboard_username,
    dashboard_password, signature_secret, merchant_uid) and ``.state``
    (counters, ``revoke_tokens()``, ``fail_next()``, ``set_delay()``, ...).
    """
    from .server import start_sandbox

    with start_sandbox() as server:
        yield server
