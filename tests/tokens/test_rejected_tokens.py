"""A token the provider refuses (401, or 403 ``invalid_token``): dropped once, not once per call."""

from __future__ import annotations

import pytest

from django_apiauth.client import ApiClient
from django_apiauth.clients.bearer import is_token_rejection
from django_apiauth.tokens import store as tokens

pytestmark = pytest.mark.django_db

INVALID_TOKEN = {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'}


def another_process():
    tokens.clear_process_memory()


def test_a_permanent_401_costs_at_most_three_token_requests_for_twenty_calls(
    api_client, fake_provider
):
    fake_provider.mock.add("GET", "https://provider.test/api/locked", status=401)  # refuses all
    for _ in range(20):
        assert api_client.get("/api/locked").status_code == 401
    assert fake_provider.token_requests <= 3


def test_a_permanent_401_is_rate_limited_fleet_wide(api_client, fake_provider):
    fake_provider.mock.add("GET", "https://provider.test/api/locked", status=401)
    api_client.get("/api/locked")
    for _ in range(5):
        another_process()
        assert ApiClient(api_client.credential).get("/api/locked").status_code == 401
    assert fake_provider.token_requests <= 3


def test_a_token_fetched_after_a_rejection_is_not_dropped_again(api_client, fake_provider):
    fake_provider.mock.add("GET", "https://provider.test/api/locked", status=401)
    api_client.get("/api/locked")  # the first token is dropped, a second one fetched
    fresh = api_client.access_token()
    assert api_client.store.rejected(fresh) is None  # a replacement refused on first use
    assert api_client.access_token() == fresh


def test_a_rejection_of_a_token_already_replaced_asks_for_a_replay(api_client, fake_provider):
    old = api_client.access_token()
    api_client.store.invalidate(old)
    api_client.access_token()
    replacement = api_client.store.rejected(old)
    assert replacement is not None and replacement.value != old
    assert fake_provider.token_requests == 2


def test_a_403_invalid_token_challenge_is_treated_like_a_401(api_client, fake_provider):
    first = api_client.access_token()

    def refuse_the_first_token(request):
        if request.headers["Authorization"] == "Bearer " + first:
            return 403, INVALID_TOKEN, "{}"
        return 200, {}, '{"ok": true}'

    fake_provider.mock.add_callback(
        "GET", "https://provider.test/api/oauth-toolkit", callback=refuse_the_first_token
    )
    response = api_client.get("/api/oauth-toolkit")
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [403]
    assert api_client.access_token() != first


def test_a_plain_403_keeps_the_token(api_client, fake_provider):
    fake_provider.mock.add("GET", "https://provider.test/api/forbidden", status=403)
    token = api_client.access_token()
    assert api_client.get("/api/forbidden").status_code == 403
    assert api_client.access_token() == token
    assert fake_provider.token_requests == 1


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (401, {}, True),
        (403, INVALID_TOKEN, True),
        (403, {"WWW-Authenticate": "Bearer error=invalid_token"}, True),
        (403, {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}, False),
        (403, {}, False),
        (404, INVALID_TOKEN, False),
    ],
)
def test_which_answers_reject_the_token(status, headers, expected):
    assert is_token_rejection(status, headers) is expected
