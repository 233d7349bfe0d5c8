"""Failure injection: outages, Retry-After, non-JSON answers, delays, resets."""

from __future__ import annotations

import pytest
import requests

from django_apiauth.testing import start_sandbox

pytestmark = pytest.mark.live

GRANT = {"grant_type": "client_credentials"}


def post_token(sandbox, http):
    account = sandbox.account
    return http.post(
        f"{sandbox.url}/api/token",
        data=GRANT,
        auth=(account.api_key, account.api_secret),
        timeout=5,
    )


def test_next_token_calls_fail_with_503_and_retry_after(sandbox, http):
    sandbox.state.fail_next("token", 2, retry_after=7)
    statuses = [post_token(sandbox, http) for _ in range(3)]
    assert [answer.status_code for answer in statuses] == [503, 503, 200]
    assert statuses[0].headers["Retry-After"] == "7"


def test_injected_token_failures_issue_no_token(sandbox, http):
    sandbox.state.fail_next("token", 1)
    post_token(sandbox, http)
    assert sandbox.state.snapshot().get("tokens_issued", 0) == 0
    assert sandbox.state.snapshot()["injected_failures"] == 1


def test_api_failures_leave_the_token_endpoint_alone(sandbox, http, fetch_token):
    sandbox.state.fail_next("api", 1, status=502)
    token = fetch_token()
    first = http.get(
        f"{sandbox.url}/api/merchant", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    second = http.get(
        f"{sandbox.url}/api/merchant", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert (first.status_code, second.status_code) == (502, 200)


def test_injected_answer_can_be_html(sandbox, http):
    sandbox.state.fail_next(
        "token", status=200, body="<html>maintenance</html>", content_type="text/html"
    )
    answer = post_token(sandbox, http)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.text == "<html>maintenance</html>"


def test_delay_makes_a_short_read_timeout_expire(sandbox, http):
    sandbox.state.set_delay(1.0, "token")
    with pytest.raises(requests.ReadTimeout):
        account = sandbox.account
        http.post(
            f"{sandbox.url}/api/token",
            data=GRANT,
            auth=(account.api_key, account.api_secret),
            timeout=(2, 0.1),
        )


def test_unknown_kind_is_refused(sandbox):
    with pytest.raises(ValueError, match="unknown kind"):
        sandbox.state.fail_next("dashboard")


def test_reset_forgets_counters_tokens_and_faults(sandbox, http, fetch_token):
    fetch_token()
    sandbox.state.fail_next("token", 3)
    sandbox.state.token_lifetime = 5
    sandbox.state.reset()
    assert sandbox.state.snapshot() == {}
    assert sandbox.state.live_tokens == 0
    assert post_token(sandbox, http).json()["expires_in"] == 600


def test_counters_and_revocation_over_http(sandbox, http, fetch_token):
    fetch_token()
    assert http.get(f"{sandbox.url}/sandbox/counters", timeout=5).json()["live_tokens"] == 1
    assert http.post(f"{sandbox.url}/sandbox/revoke", timeout=5).json() == {"revoked": 1}
    assert sandbox.state.live_tokens == 0


def test_server_stops_listening(sandbox_provider):
    server = start_sandbox()
    url = server.url
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/sandbox/counters", timeout=2)
