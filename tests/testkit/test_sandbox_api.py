"""Bearer- and Basic-protected endpoints of the sandbox."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.live


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_bearer_endpoint_answers_with_a_valid_token(sandbox, http, fetch_token):
    answer = http.get(f"{sandbox.url}/api/merchant", headers=bearer(fetch_token()), timeout=5)
    assert answer.status_code == 200
    assert answer.json()["merchant_uid"] == sandbox.account.merchant_uid


def test_bearer_endpoint_names_the_account_of_the_token(sandbox, http, fetch_token):
    other = sandbox.state.add_account()
    answer = http.get(f"{sandbox.url}/api/merchant", headers=bearer(fetch_token(other)), timeout=5)
    assert answer.json()["merchant_uid"] == other.merchant_uid


@pytest.mark.parametrize("headers", [{}, bearer("made-up"), {"Authorization": "Basic eDp5"}])
def test_bearer_endpoint_refuses_without_a_known_token(sandbox, http, headers):
    answer = http.get(f"{sandbox.url}/api/merchant", headers=headers, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_revoked_token_is_refused(sandbox, http, fetch_token):
    token = fetch_token()
    assert sandbox.state.revoke_tokens() == 1
    answer = http.get(f"{sandbox.url}/api/merchant", headers=bearer(token), timeout=5)
    assert answer.status_code == 401


def test_expired_token_is_refused(sandbox, http, fetch_token):
    now = [1000.0]
    sandbox.state.clock = lambda: now[0]
    token = fetch_token()
    now[0] += 600
    answer = http.get(f"{sandbox.url}/api/merchant", headers=bearer(token), timeout=5)
    assert answer.status_code == 401


def test_token_is_valid_until_its_lifetime_ends(sandbox, http, fetch_token):
    now = [1000.0]
    sandbox.state.clock = lambda: now[0]
    token = fetch_token()
    now[0] += 599
    answer = http.get(f"{sandbox.url}/api/merchant", headers=bearer(token), timeout=5)
    assert answer.status_code == 200


def test_bearer_counters(sandbox, http, fetch_token):
    token = fetch_token()
    for _ in range(3):
        http.get(f"{sandbox.url}/api/merchant", headers=bearer(token), timeout=5)
    http.get(f"{sandbox.url}/api/merchant", timeout=5)
    counters = sandbox.state.snapshot()
    assert (counters["bearer_calls"], counters["bearer_rejected"]) == (4, 1)


def test_echo_returns_the_body_it_received(sandbox, http, fetch_token):
    answer = http.post(
        f"{sandbox.url}/api/echo?page=2",
        json={"amount": 10},
        headers=bearer(fetch_token()),
        timeout=5,
    )
    body = answer.json()
    assert (body["method"], body["query"], body["body"]) == (
        "POST",
        {"page": "2"},
        '{"amount": 10}',
    )


def test_basic_endpoint_accepts_the_dashboard_login(sandbox, http):
    account = sandbox.account
    answer = http.get(
        f"{sandbox.url}/api/dashboard/merchant",
        auth=(account.dashboard_username, account.dashboard_password),
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["dashboard_username"] == account.dashboard_username


def test_basic_endpoint_accepts_the_seed_test_vector(sandbox, http):
    sandbox.state.add_account(dashboard_username="random@domain.com", dashboard_password="john123")
    answer = http.get(
        f"{sandbox.url}/api/dashboard/merchant",
        headers={"Authorization": "Basic cmFuZG9tQGRvbWFpbi5jb206am9objEyMw=="},
        timeout=5,
    )
    assert answer.status_code == 200


def test_basic_endpoint_does_not_take_api_key_and_secret(sandbox, http):
    account = sandbox.account
    answer = http.get(
        f"{sandbox.url}/api/dashboard/merchant",
        auth=(account.api_key, account.api_secret),
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_basic_endpoint_refuses_a_wrong_password(sandbox, http):
    answer = http.get(
        f"{sandbox.url}/api/dashboard/merchant",
        auth=(sandbox.account.dashboard_username, "wrong"),
        timeout=5,
    )
    assert answer.status_code == 401
    assert sandbox.state.snapshot()["basic_rejected"] == 1
