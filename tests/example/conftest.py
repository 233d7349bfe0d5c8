"""Fixtures for the example project's tests (the sandbox comes from tests/conftest.py)."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def sandbox(sandbox_provider):
    return sandbox_provider


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture
def fetch_token(sandbox, http):
    """Get a token from the sandbox the way PROVIDER.md describes."""

    def fetch(account=None) -> str:
        account = account or sandbox.account
        answer = http.post(
            f"{sandbox.url}/api/token",
            data={"grant_type": "client_credentials"},
            auth=(account.api_key, account.api_secret),
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    return fetch
