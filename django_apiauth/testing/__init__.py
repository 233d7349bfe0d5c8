"""The provider simulation, for your tests, demos and benchmarks.

One in-memory provider (:class:`SandboxState`: accounts, issued and revoked
tokens, counters, injected faults and delays, extra endpoints, signed
notifications in both schemes) served two ways:

- in-process through ``responses``: :class:`FakeProvider` and the
  ``fake_provider`` pytest fixture (needs ``pip install "django-apiauth[testing]"``);
- over real HTTP on loopback: :func:`start_sandbox` (a threaded, keep-alive
  server; standard library only) and ``manage.py apiauth_sandbox [addrport]``.

With ``django-apiauth[testing]`` installed, pytest loads the fixtures
(``fake_provider``, ``sandbox_provider``, ``apiauth_token_cache``) by itself
through the ``pytest11`` entry point: nothing to add to ``conftest.py``.
"""

from __future__ import annotations

from typing import Any

from .notifications import (
    Delivery,
    deliver,
    payment_notification,
    send_notification,
    tamper,
    transfer_notification,
)
from .server import SandboxServer, start_sandbox
from .state import Account, SandboxState

__all__ = [
    "Account",
    "Delivery",
    "FakeProvider",
    "SandboxServer",
    "SandboxState",
    "deliver",
    "fake_provider",
    "payment_notification",
    "send_notification",
    "start_sandbox",
    "tamper",
    "transfer_notification",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: FakeProvider needs ``responses`` and the fixture
    # needs pytest, neither of which the live server (or a demo) should require.
    if name == "FakeProvider":
        from .fake import FakeProvider

        return FakeProvider
    if name == "fake_provider":
        from .plugin import fake_provider

        return fake_provider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
