"""``manage.py apiauth_sandbox [addrport]``: the sandbox standalone, account from env vars."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import requests
from django.core.management import CommandError, call_command

from django_apiauth.management.commands.apiauth_sandbox import parse_addrport

ACCOUNT = {
    "APIAUTH_SANDBOX_API_KEY": "cmd_key_4Fq8Zr2Lx6",
    "APIAUTH_SANDBOX_API_SECRET": "cmd_secret_Wp3Nd7Ks1Vb9",
    "APIAUTH_SANDBOX_DASHBOARD_PASSWORD": "cmd_dash_Hy5Tg2",
}


@pytest.mark.live
def test_the_command_serves_tokens_for_the_account_of_the_environment_and_prints_no_secret():
    env = {**os.environ, **ACCOUNT, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    command = [sys.executable, "-m", "django", "apiauth_sandbox", "127.0.0.1:0"]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            first = process.stdout.readline()
            url = re.search(r"http://127\.0\.0\.1:\d+", first).group(0)
            answer = requests.post(
                f"{url}/api/token",
                data={"grant_type": "client_credentials"},
                auth=(ACCOUNT["APIAUTH_SANDBOX_API_KEY"], ACCOUNT["APIAUTH_SANDBOX_API_SECRET"]),
                timeout=5,
            )
        finally:
            process.terminate()
            rest = process.communicate(timeout=10)[0]
    assert answer.status_code == 200
    output = first + rest
    assert "…2Lx6" in output  # the API key, masked to its last 4 characters
    leaked = [name for name, value in ACCOUNT.items() if value in output]
    assert leaked == []
    assert answer.json()["access_token"] not in output


def test_the_command_names_the_missing_variables(monkeypatch):
    for name in ACCOUNT:
        monkeypatch.delenv(name, raising=False)
    missing = "APIAUTH_SANDBOX_API_KEY and APIAUTH_SANDBOX_API_SECRET"
    with pytest.raises(CommandError, match=missing):
        call_command("apiauth_sandbox", "0")


def test_the_command_refuses_a_bad_token_lifetime(monkeypatch):
    for name, value in ACCOUNT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("APIAUTH_SANDBOX_TOKEN_LIFETIME", "ten")
    with pytest.raises(CommandError, match="APIAUTH_SANDBOX_TOKEN_LIFETIME must be a positive"):
        call_command("apiauth_sandbox", "0")


@pytest.mark.parametrize(
    "value, expected",
    [("8001", ("127.0.0.1", 8001)), ("0.0.0.0:9000", ("0.0.0.0", 9000)), ("[::1]:0", ("::1", 0))],
)
def test_addrport_forms(value, expected):
    assert parse_addrport(value) == expected


@pytest.mark.parametrize("value", ["http://x:1", "host:", "99999", "a b:1"])
def test_a_bad_addrport_is_refused_with_an_example(value):
    with pytest.raises(CommandError, match="e.g. 127.0.0.1:8001"):
        parse_addrport(value)
