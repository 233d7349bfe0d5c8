"""The sandbox never writes a secret or a token into a log line or a repr."""

from __future__ import annotations

import logging

import jwt
import pytest

pytestmark = pytest.mark.live


def secrets_of(account):
    return [
        account.api_secret,
        account.dashboard_password,
        account.signature_secret,
    ]


def test_no_secret_or_token_in_any_log_record(sandbox, http, caplog):
    caplog.set_level(logging.DEBUG)
    account = sandbox.account
    token = http.post(
        f"{sandbox.url}/api/token",
        data={"grant_type": "client_credentials"},
        auth=(account.api_key, account.api_secret),
        timeout=5,
    ).json()["access_token"]
    http.get(f"{sandbox.url}/api/merchant", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    http.post(f"{sandbox.url}/api/token", data={"grant_type": "x"}, auth=(account.api_key, "bad"))
    http.get(
        f"{sandbox.url}/api/dashboard/merchant",
        auth=(account.dashboard_username, account.dashboard_password),
        timeout=5,
    )
    signature = jwt.encode({"data": {}}, account.signature_secret, algorithm="HS256")
    http.post(f"{sandbox.url}/api/purchase_link/", params={"signature": signature}, timeout=5)

    # urllib3's own DEBUG lines belong to the client side, which other tests cover.
    server_side = [r for r in caplog.records if not r.name.startswith("urllib3")]
    logged = "\n".join(record.getMessage() for record in server_side)
    loggers = {record.name for record in server_side}
    assert {"django_apiauth.testing", "django_apiauth.testing.http"} <= loggers
    for value in [*secrets_of(account), account.api_key, token, signature]:
        assert value not in logged


def test_reprs_show_no_secret(sandbox):
    shown = repr(sandbox) + repr(sandbox.state) + repr(sandbox.account) + str(sandbox.account)
    for value in [*secrets_of(sandbox.account), sandbox.account.api_key]:
        assert value not in shown
