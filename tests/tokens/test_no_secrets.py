"""No secret, token or Authorization value in any log record, exception, repr or cache value."""

from __future__ import annotations

import base64
import contextlib
import json
import pickle
import re

import pytest
import requests
from django.core.cache import caches

from django_apiauth.client import ApiClient
from django_apiauth.exceptions import ApiAuthError
from django_apiauth.tokens import memory as token_memory
from django_apiauth.transport.basic import DashboardBasicAuth

from .cachebackends import StoppableCache

pytestmark = pytest.mark.django_db


def issued_tokens(provider) -> list[str]:
    found = []
    for call in provider.mock.calls:
        response = call.response
        if isinstance(response, requests.Response) and call.request.url.endswith("/api/token"):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                found.append(response.json()["access_token"])
    return found


def cache_contents() -> list[str]:
    cache = caches["default"]
    return [repr(pickle.loads(value)) for value in cache._cache.values()]  # LocMem internals


def test_nothing_secret_leaks_anywhere(fake_provider, db, all_logs, apiauth, clock, settings):
    apiauth(CHECK_PATH="/api/me", MAX_RETRIES=1)
    fake_provider.add_bearer_endpoint("GET", "/api/me", json={"uid": "m1"})
    fake_provider.add_basic_endpoint("GET", "/api/dashboard", json={})
    credential = fake_provider.create_credential(
        name="shop", signature_secret="sig-secret-value-123"
    )
    client = ApiClient(credential)
    seen: list[str] = []
    errors: list[BaseException] = []

    def attempt(action):
        try:
            result = action()
        except ApiAuthError as err:
            errors.append(err)
            return None
        if not isinstance(result, str):  # access_token() returns the token, by design
            seen.append(repr(result))
        return result

    # The happy path, a revoked token healed by a replay, a Basic call, a check.
    attempt(lambda: client.get("/api/me"))
    fake_provider.revoke_tokens()
    attempt(lambda: client.get("/api/me"))
    attempt(lambda: client.get("/api/dashboard", auth="basic"))
    attempt(client.check)
    # A refresh that fails while the token is valid, then an expired token with a
    # provider that is down.
    clock.advance(560)
    fake_provider.fail_token_requests(
        2, status=503, body="<html>down</html>", content_type="text/html"
    )
    attempt(client.access_token)
    clock.advance(100)
    fake_provider.fail_token_requests(2, status=503)
    attempt(client.access_token)
    # A 200 that echoes a token of the wrong type, an error answer, a wrong secret.
    fake_provider.fail_token_requests(
        status=200,
        body=json.dumps({"access_token": "echoed-token-value-42", "token_type": "mac"}),
    )
    attempt(client.access_token)
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    attempt(client.access_token)
    attempt(client.access_token)  # remembered
    attempt(client.check)
    # The shared cache going down.
    settings.CACHES = {
        "default": {"BACKEND": "tests.tokens.cachebackends.StoppableCache", "LOCATION": "s"}
    }
    StoppableCache.stopped = True
    try:
        attempt(ApiClient(credential).access_token)
    finally:
        StoppableCache.stopped = False
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
    }
    attempt(lambda: client.get("/api/me"))

    secrets = [
        fake_provider.api_key,
        fake_provider.api_secret,
        fake_provider.dashboard_password,
        "sig-secret-value-123",
        base64.b64encode(f"{fake_provider.api_key}:{fake_provider.api_secret}".encode()).decode(),
        base64.b64encode(
            f"{fake_provider.dashboard_username}:{fake_provider.dashboard_password}".encode()
        ).decode(),
        "echoed-token-value-42",
        "hunter2",  # the password inside the fake cache error's text
        *issued_tokens(fake_provider),
    ]
    assert len(issued_tokens(fake_provider)) >= 3
    assert errors, "the scenario should have produced errors"

    texts = [all_logs.text]
    for record in all_logs.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        if record.exc_info:
            texts.append(repr(record.exc_info[1]))
    for err in errors:
        texts += [str(err), repr(err), repr(err.__dict__)]
    texts += seen
    texts += [repr(client), repr(client.store), repr(credential), str(credential)]
    texts += [repr(client.store.cached()), repr(DashboardBasicAuth(credential))]
    texts += [repr(token_memory.slots())]
    texts += [repr(b) for slot in token_memory.slots() for b in slot.blocks.values()]
    texts += cache_contents()
    haystack = "\n".join(texts)

    assert "urllib3" in all_logs.text or "connectionpool" in all_logs.text  # DEBUG really on
    for secret in secrets:
        assert secret not in haystack, f"a secret ({secret[:3]}...) leaked"
    # No header value of either scheme, whatever it holds.
    assert not re.search(r"(Bearer|Basic) [A-Za-z0-9._~+/=-]{16,}", haystack)


def test_the_shared_cache_never_holds_a_token_in_clear(api_client, fake_provider):
    token = api_client.access_token()
    stored = cache_contents()
    assert stored
    assert all(token not in value for value in stored)
