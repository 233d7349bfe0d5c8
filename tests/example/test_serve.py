"""``demo --serve``: the admin walk-through starts the site, the sandbox and a superuser."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from .helpers import MANAGE, ROOT, example_env, free_port

pytestmark = [pytest.mark.live, pytest.mark.slow]  # runs manage.py demo --serve


def wait_for(url: str, process: subprocess.Popen, deadline: float = 30) -> requests.Response:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            pytest.fail(f"demo --serve exited early: {process.communicate()[0]}")
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("serve")
    site_port, sandbox_port = free_port(), free_port()
    env = example_env(tmp_path, SANDBOX_URL=f"http://127.0.0.1:{sandbox_port}")
    process = subprocess.Popen(
        [sys.executable, str(MANAGE), "demo", "--serve", "--addrport", f"127.0.0.1:{site_port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{site_port}/admin/login/", process)
        yield f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{sandbox_port}"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_serve_runs_the_admin_and_the_sandbox(served):
    site, sandbox = served
    assert requests.get(f"{site}/admin/login/", timeout=5).status_code == 200
    assert "counters" in requests.get(f"{sandbox}/sandbox/counters", timeout=5).json()


def test_admin_login_works_and_the_shop_credential_is_listed(served):
    site, _ = served
    with requests.Session() as browser:
        browser.get(f"{site}/admin/login/", timeout=5)
        answer = browser.post(
            f"{site}/admin/login/?next=/admin/django_apiauth/apicredential/",
            data={
                "username": "admin",
                "password": "admin",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                "next": "/admin/django_apiauth/apicredential/",
            },
            headers={"Referer": f"{site}/admin/login/"},
            timeout=5,
        )
    assert answer.status_code == 200
    assert answer.url.endswith("/admin/django_apiauth/apicredential/")
    assert ">shop<" in answer.text


def test_sandbox_accepts_the_documented_account(served):
    _, sandbox = served
    answer = requests.post(
        f"{sandbox}/api/token",
        data={"grant_type": "client_credentials"},
        auth=("sandbox_key_0123456789abcdef", "sandbox-api-secret-change-me"),
        timeout=5,
    )
    assert answer.status_code == 200
