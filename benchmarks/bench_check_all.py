"""``manage.py apiauth_check --all`` on 10,000 credentials, a 0.3 s provider and 32 workers.

    .venv/bin/python benchmarks/bench_check_all.py [CREDENTIALS]

What is measured: the command end to end (loading the active credentials,
checking their secrets decrypt, the pool, saving ``last_check_*``, printing a
line each), against the ideal ``credentials / workers x latency``. The
provider is simulated inside each check: ``ApiClient.check`` is replaced by a
0.3 s sleep returning a successful result, so the figure is the runner's own
overhead (bookkeeping, threads, the bulk save), not HTTP or the machine's
CPU spent on TLS and token encryption. The issue's figure: within 1.2x the ideal.
"""

import io
import sys
import time

from _django import KEY, setup

setup(APIAUTH={"ENCRYPTION_KEYS": [KEY]})

from django.core.management import call_command  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402

from django_apiauth.client import ApiClient  # noqa: E402
from django_apiauth.clients.check import CheckResult  # noqa: E402
from django_apiauth.connectivity import DEFAULT_MAX_WORKERS  # noqa: E402
from django_apiauth.models import ApiCredential  # noqa: E402

CREDENTIALS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
LATENCY = 0.3


def fake_check(self):
    time.sleep(LATENCY)
    return CheckResult(True, "token", 200, LATENCY * 1000, "simulated", name=self.name)


def main():
    call_command("migrate", verbosity=0)
    ApiCredential.objects.bulk_create(
        ApiCredential(name=f"merchant-{i:05d}", api_key=f"key-{i:05d}", api_secret="secret")
        for i in range(CREDENTIALS)
    )
    ApiClient.check = fake_check
    out = io.StringIO()
    start = time.perf_counter()
    try:
        call_command("apiauth_check", "--all", stdout=out, stderr=io.StringIO())
    except CommandError as err:
        raise SystemExit(f"a check failed: {err}") from None
    elapsed = time.perf_counter() - start
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("OK") for line in lines) == CREDENTIALS
    assert ApiCredential.objects.filter(last_check_ok=True).count() == CREDENTIALS
    ideal = CREDENTIALS / DEFAULT_MAX_WORKERS * LATENCY
    print(
        f"apiauth_check --all: {CREDENTIALS} credentials, {DEFAULT_MAX_WORKERS} workers, "
        f"{LATENCY * 1000:.0f} ms per check"
    )
    ratio = elapsed / ideal
    print(f"  measured {elapsed:7.1f} s, ideal {ideal:7.1f} s: {ratio:.3f}x (target <= 1.2)")


if __name__ == "__main__":
    main()
