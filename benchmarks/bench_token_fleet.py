"""Token requests made by a fleet of 4 processes x 8 threads: django-apiauth vs the usual clients.

    .venv/bin/python benchmarks/bench_token_fleet.py [--lifetime 3] [--lifetimes 3]

Needs Redis on 127.0.0.1:6379 (database 13, keys under a random prefix, deleted
at the end). A sandbox provider (``django_apiauth.testing``) runs on loopback in
this process and counts the token requests it receives. In the same run:

* **fleet over several lifetimes** — every thread calls ``GET /api/merchant``
  for ``lifetimes x lifetime`` seconds (short tokens so a run takes seconds);
* **cold start** — every thread of every process makes one call, all at once.

Compared: ``ApiClient`` (process memory + shared Redis cache), authlib's
``OAuth2Session`` and requests-oauthlib's ``OAuth2Session``, each thread with
its own session as their documentation shows.
"""

from __future__ import annotations

import argparse
import socket
import sys
import uuid

from _django import KEY, delete_redis_keys, setup

PROCESSES, THREADS = 4, 8
REDIS_URL = "redis://127.0.0.1:6379/13"
#: Every key this run writes starts with it; they are deleted at the end (never FLUSHDB).
RUN_PREFIX = f"bench-{uuid.uuid4().hex[:8]}"

CALLERS = {
    "django-apiauth ApiClient": "django_apiauth.testing.fleet:apiauth_caller",
    "authlib OAuth2Session": "_fleet_worker:authlib_caller",
    "requests-oauthlib OAuth2Session": "_fleet_worker:requests_oauthlib_caller",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifetime", type=int, default=4, help="token lifetime (s)")
    parser.add_argument("--lifetimes", type=int, default=3, help="lifetimes per run")
    args = parser.parse_args()
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        sys.exit("Redis is not reachable on 127.0.0.1:6379")

    # Short tokens keep the run short; leeway and margin shrink with them (the
    # defaults, 10 s and 60 s, are for the provider's 600 s tokens). authlib gets
    # the same leeway; requests-oauthlib has none.
    leeway, margin = args.lifetime / 8, 0.3
    apiauth = {
        "ENCRYPTION_KEYS": [KEY],
        "ALLOW_INSECURE_LOOPBACK": True,
        "EXPIRY_LEEWAY": leeway,
        "REFRESH_MARGIN": margin,
    }
    cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{RUN_PREFIX}-{uuid.uuid4().hex[:8]}",
    }
    setup(
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF="sandbox.urls",
        CACHES={"default": cache},
        APIAUTH=apiauth,
    )
    from django_apiauth.testing import start_sandbox
    from django_apiauth.testing.fleet import run_fleet

    server = start_sandbox()
    account = server.account
    duration = args.lifetime * args.lifetimes
    base = {
        "cache": cache,
        "apiauth": apiauth,
        "threads": THREADS,
        "leeway": leeway,
        "credential": {
            "base_url": server.url,
            "api_key": account.api_key,
            "api_secret": account.api_secret,
        },
    }

    def measure(caller: str, **run: float) -> dict[str, int]:
        server.state.reset()
        server.state.token_lifetime = args.lifetime
        # A new prefix per run: no token left over from the previous client.
        config = {**base, "caller": caller, **run}
        config["cache"] = {**cache, "KEY_PREFIX": f"{RUN_PREFIX}-{uuid.uuid4().hex[:8]}"}
        outcomes = run_fleet(PROCESSES, config, timeout=duration + 120)
        counters = server.state.snapshot()
        failed = sum(len(o["errors"]) for o in outcomes)
        if any("Traceback" in e for o in outcomes for e in o["errors"]):
            sys.exit(outcomes[0]["errors"][0])
        return {
            "tokens": counters.get("token_requests", 0),
            "calls": sum(o["ok"] for o in outcomes),
            "failed": failed,
            "rejected": counters.get("bearer_rejected", 0),
        }

    try:
        print(
            f"fleet: {PROCESSES} processes x {THREADS} threads, token lifetime {args.lifetime}s, "
            f"{args.lifetimes} lifetimes ({duration}s); Redis cache; sandbox on {server.url}\n"
            f"django-apiauth replaces its token {args.lifetime - leeway - margin:.1f}s after "
            f"fetching it (lifetime - leeway {leeway:.1f}s - refresh margin {margin}s)\n"
        )
        header = (
            f"{'client':34} {'token requests':>14} {'per lifetime':>12} "
            f"{'ok calls':>9} {'failed':>7} {'401s':>5}"
        )
        print("(1) several lifetimes\n" + header)
        for label, caller in CALLERS.items():
            r = measure(caller, duration=duration, pause=0.01)
            print(
                f"{label:34} {r['tokens']:>14} {r['tokens'] / args.lifetimes:>12.1f} "
                f"{r['calls']:>9} {r['failed']:>7} {r['rejected']:>5}"
            )
        print("\n(3) cold start: every thread makes one call, all at once\n" + header)
        for label, caller in CALLERS.items():
            r = measure(caller, calls=1)
            print(
                f"{label:34} {r['tokens']:>14} {'':>12} "
                f"{r['calls']:>9} {r['failed']:>7} {r['rejected']:>5}"
            )
    finally:
        server.stop()
        delete_redis_keys(REDIS_URL, RUN_PREFIX)


if __name__ == "__main__":
    main()
