"""A real second process sees an edit and a deactivation made here (Redis, PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from django_apiauth.models import ApiCredential

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: How long to keep asking before giving up (a bound on the wait, not a timing assertion).
GIVE_UP_AFTER = 15.0


@pytest.fixture
def worker(redis_cache_settings):
    env = {
        **os.environ,
        "WORKER_DATABASE": connection.settings_dict["NAME"],
        "WORKER_REDIS_URL": redis_cache_settings["LOCATION"],
        "WORKER_REDIS_PREFIX": redis_cache_settings["KEY_PREFIX"],
        "PYTHONPATH": ROOT,  # the worker needs tests.settings, not the example project
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.tokens.fleet_client_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )

    def ask() -> str:
        process.stdin.write("get\n")
        process.stdin.flush()
        return process.stdout.readline().strip()

    yield ask
    process.stdin.close()
    process.wait(timeout=10)


def eventually(ask, expected: str) -> list[str]:
    answers = []
    deadline = time.monotonic() + GIVE_UP_AFTER
    while time.monotonic() < deadline:
        answers.append(ask())
        if answers[-1] == expected:
            return answers
        time.sleep(0.1)
    pytest.fail(f"the other process never saw {expected!r}: {answers[-5:]}")


@pytest.mark.django_db(transaction=True)
def test_another_process_sees_an_edit_then_a_deactivation(worker):
    credential = ApiCredential.objects.create(
        name="shop", api_key="k", api_secret="s", merchant_uid="m-1"
    )
    assert worker() == "m-1"
    credential.merchant_uid = "m-2"
    credential.save()
    answers = eventually(worker, "m-2")
    assert set(answers) <= {"m-1", "m-2"}
    credential.is_active = False
    credential.save()
    eventually(worker, "not found")
