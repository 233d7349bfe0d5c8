"""Fixtures of the token/client tests: a fake provider, a credential, a client, a clock."""

from __future__ import annotations

import logging

import pytest

from django_apiauth import clock as apiauth_clock
from django_apiauth import tokens
from django_apiauth.client import ApiClient
from django_apiauth.testing import FakeProvider


@pytest.fixture(autouse=True)
def _clean_token_memory():
    tokens.clear_process_memory()
    yield
    tokens.clear_process_memory()


@pytest.fixture
def apiauth(settings):
    """Edit ``settings.APIAUTH`` in place: ``apiauth(REFRESH_MARGIN=1)``."""

    def update(**values):
        settings.APIAUTH = {**settings.APIAUTH, **values}

    return update


@pytest.fixture
def provider():
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def credential(provider, db):
    return provider.create_credential(name="shop")


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
