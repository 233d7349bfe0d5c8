"""The first call in a new process, and the site's start-up, with and without the app.

    .venv/bin/python benchmarks/bench_first_call.py        # Redis db 15, own keys deleted after
    BENCH_CACHE=locmem .venv/bin/python benchmarks/bench_first_call.py
    BENCH_RUNS=15 .venv/bin/python benchmarks/bench_first_call.py      # more runs (default 7)
    BENCH_REDIS_HANDSHAKE=short .venv/bin/python benchmarks/bench_first_call.py
                         # OPTIONS lib_name/lib_version None, protocol 2 (docs/deployment.md)

Every figure comes from a new Python process; the kinds take turns, ``RUNS``
times, and min / median / max are printed:

* **first call**: a site (the admin, the app and its URLs, a SQLite file
  database, the token cache on Redis) has started (``django.setup()``, the
  WSGI application, the URLconf); then ``get_client(name).get(path)`` is timed:
  loading the credential, a token fetch (each process has a key prefix of its
  own, so the shared cache never has the token yet) and the GET;
* **bare requests**: the same token fetch and GET with ``requests`` alone
  (``requests`` already imported): the baseline of the first call;
* **site start-up**: the whole process (interpreter included) that sets up
  Django, builds the WSGI application and loads the URLconf, with the app
  (and its URLs) and without it.

The provider is ``django_apiauth.testing.start_sandbox()`` in this process,
Nagle's algorithm off (as a production server would answer: otherwise each
answer waits for the client's delayed ACK, 40 ms on Linux). The figures of
issue 22: first call <= 3x bare requests; start-up with the app <= 1.25x
without it.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REDIS_URL = "redis://127.0.0.1:6379/15"
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
PATH = "/api/merchant"


def site_settings(with_app: bool) -> dict:
    from _django import ADMIN_SETTINGS, KEY

    apps = [a for a in ADMIN_SETTINGS["INSTALLED_APPS"] if with_app or a != "django_apiauth"]
    cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if os.environ.get("BENCH_CACHE", "redis") == "redis":
        cache = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Each process its own (no token from an earlier one), all under the run's.
            "KEY_PREFIX": f"{os.environ['BENCH_REDIS_PREFIX']}-{os.getpid()}-{time.time_ns()}",
        }
        if os.environ.get("BENCH_REDIS_HANDSHAKE") == "short":
            cache["OPTIONS"] = {"lib_name": None, "lib_version": None, "protocol": 2}
    return {
        **ADMIN_SETTINGS,
        "INSTALLED_APPS": apps,
        "ROOT_URLCONF": "site_urls",
        "DATABASES": {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_DB"]}
        },
        "CACHES": {"default": cache},
        "APIAUTH": {"ENCRYPTION_KEYS": [KEY], "ALLOW_INSECURE_LOOPBACK": True},
    }


def start_site(with_app: bool) -> None:
    from _django import setup

    setup(**site_settings(with_app))
    from django.core.wsgi import get_wsgi_application
    from django.urls import get_resolver

    get_wsgi_application()
    get_resolver().url_patterns  # noqa: B018  (imports the URLconf)


def child(kind: str) -> None:
    sys.path[:0] = [HERE]
    if kind in ("site-with", "site-without"):
        start_site(kind == "site-with")
        return
    if kind == "first-call":
        start_site(True)
        from django_apiauth.client import get_client

        start = time.perf_counter()
        response = get_client("shop").get(PATH)
    else:  # bare requests
        import requests

        url, key, secret = os.environ["BENCH_PROVIDER"].split(" ")
        start = time.perf_counter()
        with requests.Session() as session:
            token = session.post(
                f"{url}/api/token", auth=(key, secret), data={"grant_type": "client_credentials"}
            ).json()["access_token"]
            response = session.get(url + PATH, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.status_code
    print(time.perf_counter() - start)


def run(kind: str, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, kind], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    out = done.stdout
    wall = time.perf_counter() - start
    return float(out) if kind in ("first-call", "bare-requests") else wall


def main() -> None:
    sys.path[:0] = [HERE]
    workdir = tempfile.mkdtemp(prefix="bench-first-call-")
    env = {
        **os.environ,
        "BENCH_DB": os.path.join(workdir, "site.sqlite3"),
        "BENCH_REDIS_PREFIX": f"bench-first-call-{uuid.uuid4().hex[:8]}",
    }
    os.environ.update(env)
    from _django import delete_redis_keys, setup

    setup(**site_settings(True))
    from django.core.management import call_command

    from django_apiauth.models import ApiCredential
    from django_apiauth.testing import start_sandbox
    from django_apiauth.testing.server import ProviderRequestHandler

    ProviderRequestHandler.disable_nagle_algorithm = True
    call_command("migrate", verbosity=0)
    server = start_sandbox()
    account = server.account
    ApiCredential.objects.create(
        name="shop", base_url=server.url, api_key=account.api_key, api_secret=account.api_secret
    )
    env["BENCH_PROVIDER"] = f"{server.url} {account.api_key} {account.api_secret}"
    kinds = ["bare-requests", "first-call", "site-without", "site-with"]
    times = {kind: [] for kind in kinds}
    try:
        run("first-call", env)  # warm-up: the OS's file cache
        for _ in range(RUNS):
            for kind in kinds:
                times[kind].append(run(kind, env))
    finally:
        server.stop()
        if os.environ.get("BENCH_CACHE", "redis") == "redis":
            delete_redis_keys(REDIS_URL, env["BENCH_REDIS_PREFIX"])

    def row(kind):
        values = sorted(times[kind])
        return (
            f"min {values[0] * 1000:6.1f}  median {statistics.median(values) * 1000:6.1f}  "
            f"max {values[-1] * 1000:6.1f} ms"
        )

    handshake = os.environ.get("BENCH_REDIS_HANDSHAKE", "default")
    print(
        f"{RUNS} runs of each, interleaved; cache: {os.environ.get('BENCH_CACHE', 'redis')} "
        f"(Redis handshake: {handshake})"
    )
    for kind in kinds:
        print(f"  {kind:<14} {row(kind)}")
    first = [a / b for a, b in zip(times["first-call"], times["bare-requests"], strict=True)]
    site = [a / b for a, b in zip(times["site-with"], times["site-without"], strict=True)]
    for name, ratios, target in (
        ("first call / bare requests", first, "<= 3x"),
        ("start-up with / without the app", site, "<= 1.25x"),
    ):
        print(
            f"  {name}: min {min(ratios):.2f}x, median {statistics.median(ratios):.2f}x, "
            f"max {max(ratios):.2f}x (target {target})"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        child(sys.argv[1])
    else:
        main()
