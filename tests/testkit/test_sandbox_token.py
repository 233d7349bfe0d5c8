"""The sandbox's token endpoint behaves like PROVIDER.md's ``POST /api/token``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.live

GRANT = {"grant_type": "client_credentials"}


def post_token(sandbox, http, **kwargs):
    return http.post(f"{sandbox.url}/api/token", timeout=5, **kwargs)


def test_valid_key_and_secret_get_a_bearer_token_for_600_seconds(sandbox, http):
    account = sandbox.account
    answer = post_token(sandbox, http, data=GRANT, auth=(account.api_key, account.api_secret))
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["access_token"]


def test_token_answer_must_not_be_cached(sandbox, http):
    account = sandbox.account
    answer = post_token(sandbox, http, data=GRANT, auth=(account.api_key, account.api_secret))
    assert answer.headers["Cache-Control"] == "no-store"


def test_each_request_gets_a_new_token(sandbox, fetch_token):
    assert fetch_token() != fetch_token()


def test_token_lifetime_is_configurable(sandbox, http):
    sandbox.state.token_lifetime = 5
    account = sandbox.account
    answer = post_token(sandbox, http, data=GRANT, auth=(account.api_key, account.api_secret))
    assert answer.json()["expires_in"] == 5


def test_seed_example_header_is_accepted(sandbox, http):
    # PROVIDER.md's curl example: your_key:your_secret -> eW91cl9rZXk6eW91cl9zZWNyZXQ=
    sandbox.state.add_account(api_key="your_key", api_secret="your_secret")
    answer = post_token(
        sandbox,
        http,
        data=GRANT,
        headers={"Authorization": "Basic eW91cl9rZXk6eW91cl9zZWNyZXQ="},
    )
    assert answer.status_code == 200


def test_wrong_secret_is_invalid_client_401(sandbox, http):
    answer = post_token(sandbox, http, data=GRANT, auth=(sandbox.account.api_key, "wrong"))
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_unknown_key_is_invalid_client_401(sandbox, http):
    answer = post_token(sandbox, http, data=GRANT, auth=("nobody", sandbox.account.api_secret))
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid_client"}


def test_missing_basic_auth_is_invalid_client_401(sandbox, http):
    answer = post_token(sandbox, http, data=GRANT)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "header", ["Basic", "Basic !!!not-base64!!!", "Basic bm9jb2xvbg==", "Bearer abc"]
)
def test_malformed_authorization_is_invalid_client_401(sandbox, http, header):
    answer = post_token(sandbox, http, data=GRANT, headers={"Authorization": header})
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["password", "CLIENT_CREDENTIALS", "client_credentials "])
def test_other_grant_types_are_unsupported(sandbox, http, grant_type):
    account = sandbox.account
    answer = post_token(
        sandbox, http, data={"grant_type": grant_type}, auth=(account.api_key, account.api_secret)
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def test_missing_grant_type_is_invalid_request(sandbox, http):
    account = sandbox.account
    answer = post_token(sandbox, http, data={}, auth=(account.api_key, account.api_secret))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_json_body_is_invalid_request(sandbox, http):
    account = sandbox.account
    answer = post_token(sandbox, http, json=GRANT, auth=(account.api_key, account.api_secret))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_get_is_not_allowed(sandbox, http):
    assert http.get(f"{sandbox.url}/api/token", timeout=5).status_code == 405


def test_counters_tell_requests_from_issued_tokens(sandbox, http, fetch_token):
    fetch_token()
    post_token(sandbox, http, data=GRANT, auth=(sandbox.account.api_key, "wrong"))
    counters = sandbox.state.snapshot()
    assert counters["token_requests"] == 2
    assert counters["tokens_issued"] == 1
    assert counters["token_rejected"] == 1


def test_request_log_records_the_scheme_not_the_credentials(sandbox, fetch_token):
    fetch_token()
    (record,) = sandbox.state.requests
    assert (record.endpoint, record.method, record.status, record.auth_scheme) == (
        "token",
        "POST",
        200,
        "basic",
    )
