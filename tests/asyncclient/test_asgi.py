"""The example project's async view, served by uvicorn, calls the sandbox with AsyncApiClient."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
import requests

from django_apiauth.testing import start_sandbox
from tests.example.helpers import ROOT, example_env, free_port, run_python

pytestmark = [pytest.mark.live, pytest.mark.slow]  # a uvicorn subprocess

CREATE_CREDENTIAL = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, "example_project")
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    import django
    django.setup()
    from django.core.management import call_command
    from django_apiauth.models import ApiCredential
    call_command("migrate", verbosity=0)
    ApiCredential.objects.create(
        name="shop",
        environment="sandbox",
        api_key=os.environ["SANDBOX_API_KEY"],
        api_secret=os.environ["SANDBOX_API_SECRET"],
    )
    """
)


def wait_for(url: str, process: subprocess.Popen) -> None:
    for _ in range(300):  # about 30 s: a bound, not a timing assertion
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited early: {process.communicate()[0]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer")


@pytest.fixture
def site(tmp_path):
    """The example project under uvicorn, its ``shop`` credential on a live sandbox."""
    with start_sandbox() as sandbox:
        account = sandbox.account
        env = example_env(
            tmp_path,
            SANDBOX_URL=sandbox.url,
            SANDBOX_API_KEY=account.api_key,
            SANDBOX_API_SECRET=account.api_secret,
            DJANGO_SETTINGS_MODULE="example_project.settings",
        )
        created = run_python(["-c", CREATE_CREDENTIAL], env)
        assert created.returncode == 0, created.stderr
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "example_project.asgi:application"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--app-dir", "example_project"]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(url + "/admin/login/", process)
            yield url, sandbox
        finally:
            process.terminate()
            process.communicate(timeout=10)


def test_the_async_view_answers_with_the_merchant_under_uvicorn(site):
    url, sandbox = site

    answer = requests.get(url + "/merchant/", timeout=10)

    assert answer.status_code == 200
    assert answer.json()["merchant_uid"] == sandbox.account.merchant_uid


def test_the_async_view_reuses_one_token_across_requests(site):
    url, sandbox = site

    for _ in range(3):
        requests.get(url + "/merchant/", timeout=10)

    assert sandbox.state.snapshot()["token_requests"] == 1
