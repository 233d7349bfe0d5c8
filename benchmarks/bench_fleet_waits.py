"""Does any caller wait? Fleets over several token lifetimes, a frozen Redis, a dead lease holder,
a hung token endpoint.

    .venv/bin/python benchmarks/bench_fleet_waits.py [--quick] [--pause SECONDS]

A sandbox provider (``django_apiauth.testing``) on loopback answers the token
endpoint in 0.3 s and issues 4 s tokens. Each worker process runs T threads
calling ``GET /api/merchant`` in a loop through ``ApiClient``; a call counts as
*blocked* when, after the thread's first success, it started with no usable
token in process memory (it had to wait for one). Scenarios:

1. fleets of 4x8, 8x16 and 16x8 (processes x threads) over 3 lifetimes, Redis
   on 127.0.0.1:6379 database 5: token requests, blocked calls, call latency;
2. Redis frozen (SIGSTOP) for 6 s mid-run: this script starts its own
   ``redis-server`` on port 6391 and stops it at the end;
3. a dead lease holder: the fleet lease is taken (and never released or
   renewed: what a killed holder leaves behind) just before the first refresh;
4. the token endpoint hangs (20 s) for a cold fleet while another host puts a
   valid token in the shared cache: how long until every process uses it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid

from _django import KEY, delete_redis_keys, setup

LIFETIME, LATENCY = 4, 0.3
OWN_REDIS_PORT = 6391
APIAUTH = {
    "ENCRYPTION_KEYS": [KEY],
    "ALLOW_INSECURE_LOOPBACK": True,
    # Short tokens keep the run short; leeway and margin floor shrink with them.
    "EXPIRY_LEEWAY": 0.2,
    "REFRESH_MARGIN": 0.2,
    "LOCK_TIMEOUT": 1,
    "TIMEOUT": (1, 3),
}


#: Every key this run writes starts with it; they are deleted at the end (never FLUSHDB).
RUN_PREFIX = f"bench-{uuid.uuid4().hex[:8]}"


def redis_cache(port: int, db: int) -> dict:
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/{db}",
        "KEY_PREFIX": f"{RUN_PREFIX}-{uuid.uuid4().hex[:8]}",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }


def cache_of(config: dict):
    """The parent's own handle on a worker cache (settings.CACHES is read once per process)."""
    from django.core.cache.backends.redis import RedisCache

    return RedisCache(config["LOCATION"], config)


def summary(outcomes: list[dict]) -> dict:
    durations = sorted(d for o in outcomes for d in o["durations"])
    median = statistics.median(durations) if durations else 0.0
    return {
        "calls": len(durations),
        "blocked": sum(o["blocked"] for o in outcomes),
        "median_ms": median * 1000,
        "p99_ms": durations[int(len(durations) * 0.99)] * 1000 if durations else 0.0,
        "max_ms": durations[-1] * 1000 if durations else 0.0,
        "errors": sum(o["error_count"] for o in outcomes),
    }


def line(label: str, tokens: int, s: dict) -> str:
    return (
        f"{label:28} {tokens:>6} {s['blocked']:>8} {s['calls']:>7} {s['median_ms']:>8.1f} "
        f"{s['p99_ms']:>8.1f} {s['max_ms']:>8.1f} {s['max_ms'] / max(s['median_ms'], 1e-9):>6.1f} "
        f"{s['errors']:>6}"
    )


HEADER = (
    f"{'scenario':28} {'tokens':>6} {'blocked':>8} {'calls':>7} {'med ms':>8} {'p99 ms':>8} "
    f"{'max ms':>8} {'max/med':>6} {'errors':>6}"
)


class OwnRedis:
    """``redis-server`` on port 6391, started and stopped here (never the shared one)."""

    def __enter__(self) -> OwnRedis:
        if not shutil.which("redis-server"):
            sys.exit("redis-server is not installed")
        self.pidfile = f"/tmp/apiauth-bench-{OWN_REDIS_PORT}.pid"
        subprocess.run(
            [
                "redis-server",
                "--port", str(OWN_REDIS_PORT),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "yes",
                "--pidfile", self.pidfile,
            ],
            check=True,
        )  # fmt: skip
        for _ in range(100):
            if os.path.exists(self.pidfile):
                break
            time.sleep(0.05)
        with open(self.pidfile) as file:
            self.pid = int(file.read().strip())
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.kill(self.pid, signal.SIGCONT)
        os.kill(self.pid, signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 4x8 fleet and the faults")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.01,
        help="seconds each thread sleeps between calls (default 0.01: the 2 cores saturated)",
    )
    args = parser.parse_args()
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        sys.exit("Redis is not reachable on 127.0.0.1:6379")
    setup(ALLOWED_HOSTS=["127.0.0.1"], APIAUTH=APIAUTH)
    import _fleet_timing

    from django_apiauth.models import ApiCredential
    from django_apiauth.testing import start_sandbox
    from django_apiauth.tokens.store import TokenStore
    from django_apiauth.tokens.values import new_token

    server = start_sandbox()
    account = server.account
    credential = {
        "base_url": server.url,
        "api_key": account.api_key,
        "api_secret": account.api_secret,
    }

    def fleet(
        processes,
        threads,
        cache,
        duration,
        apiauth=APIAUTH,
        during=None,
        lifetime=None,
        delay=LATENCY,
    ):
        server.state.reset()
        server.state.token_lifetime = lifetime or LIFETIME
        server.state.set_delay(delay, "token")
        config = {
            "cache": cache,
            "apiauth": apiauth,
            "credential": credential,
            "threads": threads,
            "duration": duration,
            "pause": args.pause,
        }
        outcomes = _fleet_timing.run(processes, config, during)
        return server.state.snapshot().get("token_requests", 0), outcomes

    def store() -> TokenStore:
        return TokenStore(ApiCredential(pk=1, name="fleet", **credential))

    print(
        f"token lifetime {LIFETIME}s, token endpoint {LATENCY}s, leeway/margin floor "
        f"{APIAUTH['EXPIRY_LEEWAY']}s/{APIAUTH['REFRESH_MARGIN']}s; blocked = calls after the "
        "first that found no usable token in memory\n"
    )
    try:
        print("(1) fleets over 3 lifetimes, Redis 127.0.0.1:6379/5\n" + HEADER)
        shapes = [(4, 8)] if args.quick else [(4, 8), (8, 16), (16, 8)]
        for processes, threads in shapes:
            tokens, outcomes = fleet(processes, threads, redis_cache(6379, 5), 3 * LIFETIME)
            print(line(f"{processes}x{threads} fleet", tokens, summary(outcomes)), flush=True)

        with OwnRedis() as redis:
            cache = redis_cache(OWN_REDIS_PORT, 0)

            def freeze(started: float) -> None:
                time.sleep(4)
                os.kill(redis.pid, signal.SIGSTOP)
                time.sleep(6)
                os.kill(redis.pid, signal.SIGCONT)

            tokens, outcomes = fleet(4, 8, cache, 14, during=freeze)
            print(line("4x8, Redis frozen 6s", tokens, summary(outcomes)), flush=True)

            # A dead holder's lease lasts LOCK_TIMEOUT; the refresh window must be longer
            # (check E022), so this scenario uses 6 s tokens (window: a quarter, 1.5 s).
            cache = redis_cache(OWN_REDIS_PORT, 1)
            apiauth = {**APIAUTH, "REFRESH_MARGIN": 1.5}

            def dead_holder(started: float) -> None:
                time.sleep(6 - 0.2 - 1.5 - 0.3)  # just before the first refresh
                cache_of(cache).add(store().lease_key, "killed-worker", timeout=1)

            tokens, outcomes = fleet(4, 8, cache, 12, apiauth, dead_holder, lifetime=6)
            print(line("4x8, dead lease holder", tokens, summary(outcomes)), flush=True)

            cache = redis_cache(OWN_REDIS_PORT, 2)

            def hung_endpoint(started: float) -> None:
                time.sleep(1.0)
                value, lifetime = server.state.issue_token(server.account)
                now_wall, now_mono = time.time(), time.monotonic()
                token = new_token(
                    value,
                    lifetime=lifetime,
                    expires_at=now_mono + lifetime,
                    expires_at_wall=now_wall + lifetime,
                )
                key = store().key
                cache_of(cache).set(key, token.as_cache_value(key), lifetime - 1)
                published.append(time.time())

            published: list[float] = []
            tokens, outcomes = fleet(4, 8, cache, 4, during=hung_endpoint, delay=20)
            adopted = [min(o["first_ok"]) - published[0] for o in outcomes if o["first_ok"]]
            if len(adopted) < len(outcomes):
                print("errors:", [o["errors"] for o in outcomes])
            print(
                f"\n(4) hung token endpoint, 4x8 cold fleet: a valid token put in the cache "
                f"1 s after the start was in use in {len(adopted)}/4 processes, the slowest "
                f"{max(adopted, default=float('nan')):.2f} s after it was published"
            )
    finally:
        server.state.set_delay(0, "token")
        server.stop()
        delete_redis_keys("redis://127.0.0.1:6379/5", RUN_PREFIX)  # the shared server's


if __name__ == "__main__":
    main()
