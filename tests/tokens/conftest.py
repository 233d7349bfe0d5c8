"""Fixtures of the token/client tests: a client, a clock, every log record.

``fake_provider``, ``credential`` and ``apiauth`` are the root conftest's.
"""

from __future__ import annotations

import logging

import pytest

from django_apiauth import clock as apiauth_clock
from django_apiauth.client import ApiClient


@pytest.fixture
def apiauth_token_cache():
    """Keep ``CACHE_ALIAS`` at ``"default"``: these tests put their own backends there and look in.

    (Overrides the plugin's private cache; the root conftest empties LocMem caches after each test.)
    """
    return "default"


@pytest.fixture
def api_client(credential):
    with ApiClient(credential) as client:
        yield client


class FakeClock(apiauth_clock.Clock):
    """The token store's clocks, moved by hand: ``advance()``, or set ``mono``/``wall``.

    ``sleep`` advances time; a test can replace ``on_sleep`` to act as another
    process would while the store waits.
    """

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_time = 1_800_000_000.0
        self.on_sleep = self.advance

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_time

    def sleep(self, seconds: float) -> None:
        self.on_sleep(seconds)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_time += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(apiauth_clock, "current", fake)
    return fake


@pytest.fixture
def all_logs(caplog):
    """Every record of every logger (urllib3 included) at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "django_apiauth", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog
