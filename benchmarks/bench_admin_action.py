"""The "Test connectivity" action: 50 credentials, provider answering in 300 ms.

    .venv/bin/python benchmarks/bench_admin_action.py

A local sandbox provider (``django_apiauth.testing``) on loopback delays every
token answer by 300 ms. Measured in the same run:

* baseline: the same per-credential check, one credential after another
  (once: it takes 15 s);
* pool: ``check_credentials`` (bounded thread pool), what the action, the
  change-page button and ``apiauth_check`` call;
* action: the admin action end to end (POST to the change list as a superuser,
  checks, storage of ``last_check_*``, messages, log entries).
"""

import statistics
import time

from _django import KEY, admin_settings, setup

CREDENTIALS = 50
REPEAT = 5  # the pooled runs are cheap; the median smooths a shared machine's noise
DELAY = 0.3

setup(**admin_settings(APIAUTH={"ENCRYPTION_KEYS": [KEY], "ALLOW_INSECURE_LOOPBACK": True}))

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from django_apiauth.connectivity import (  # noqa: E402
    DEFAULT_MAX_WORKERS,
    check_credential,
    check_credentials,
)
from django_apiauth.models import ApiCredential  # noqa: E402
from django_apiauth.testing import start_sandbox  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main():
    call_command("migrate", verbosity=0)
    sandbox = start_sandbox()
    try:
        credentials = []
        for index in range(CREDENTIALS):
            account = sandbox.state.add_account()
            credentials.append(
                ApiCredential.objects.create(
                    name=f"merchant-{index:02d}",
                    base_url=sandbox.url,
                    api_key=account.api_key,
                    api_secret=account.api_secret,
                )
            )
        sandbox.state.set_delay(DELAY, "token")

        baseline, results = timed(lambda: [check_credential(c) for c in credentials])
        assert all(r.ok for r in results), [r.summary for r in results if not r.ok][:3]
        pooled_runs = []
        for _ in range(REPEAT):
            seconds, results = timed(lambda: check_credentials(credentials))
            assert all(r.ok for r in results), [r.summary for r in results if not r.ok][:3]
            pooled_runs.append(seconds)

        User.objects.create_superuser("bench", "bench@example.com", "pw")
        client = Client()
        client.force_login(User.objects.get(username="bench"))
        url = reverse("admin:django_apiauth_apicredential_changelist")
        data = {"action": "test_connectivity", "_selected_action": [c.pk for c in credentials]}
        action_runs = []
        for _ in range(REPEAT):
            ApiCredential.objects.update(last_check_ok=None)
            seconds, response = timed(lambda: client.post(url, data))
            assert response.status_code == 302, response.status_code
            assert ApiCredential.objects.filter(last_check_ok=True).count() == CREDENTIALS
            action_runs.append(seconds)
    finally:
        sandbox.stop()

    print(
        f"{CREDENTIALS} credentials, provider answering in {DELAY * 1000:.0f} ms, "
        f"pool of {DEFAULT_MAX_WORKERS}"
    )
    pooled = statistics.median(pooled_runs)
    action = statistics.median(action_runs)
    print(f"  baseline (one after another): {baseline:6.2f} s (once)")
    runs = f"median of {REPEAT}, best"
    print(f"  check_credentials (pool):     {pooled:6.2f} s ({runs} {min(pooled_runs):.2f})")
    print(f"  admin action end to end:      {action:6.2f} s ({runs} {min(action_runs):.2f})")
    print(f"  speed-up pool vs baseline:    {baseline / pooled:6.1f}x (median)")


if __name__ == "__main__":
    main()
