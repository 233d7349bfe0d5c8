"""The async client: fleet-wide single flight, refresh ahead, per-call overhead, throughput.

    .venv/bin/python benchmarks/bench_async.py [--lifetime 4] [--lifetimes 3]

Needs Redis on 127.0.0.1:6379 (database 6, keys under a random prefix, deleted at
the end). A sandbox provider (``django_apiauth.testing``) runs on loopback in
this process, keep-alive, and counts the token requests it receives. In one run:

1. **cold start** — 4 processes x 64 asyncio tasks each, all calling at once,
   against a token endpoint that answers in 0.3 s: ``AsyncApiClient`` vs httpx
   with authlib's ``AsyncOAuth2Client`` per task (its documented use);
2. **several lifetimes** — 2 async processes (16 tasks) and 2 sync processes
   (4 threads) on one Redis for ``lifetimes x lifetime`` seconds: token
   requests per lifetime, and calls that waited for a token (more than 50 ms,
   timed apart from the HTTP call; the first call of each caller excepted);
3. **per-call overhead** of bearer auth on a memory hit vs a static header,
   through the same ``AsyncApiClient`` and an in-process transport (no socket);
   bare ``httpx.AsyncClient`` with a static header for reference;
4. **whole-request throughput** on loopback against the keep-alive sandbox:
   ``AsyncApiClient`` vs bare ``httpx.AsyncClient`` with a static header.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import time
import uuid

from _django import KEY, delete_redis_keys, setup

PROCESSES, TASKS = 4, 64
REDIS_URL = "redis://127.0.0.1:6379/6"
#: Every key this run writes starts with it; they are deleted at the end (never FLUSHDB).
RUN_PREFIX = f"bench-{uuid.uuid4().hex[:8]}"
TOKEN_DELAY = 0.3


def spawn(configs: list[dict], timeout: float) -> list[dict]:
    """One spawned process per config, all released by one barrier; their results."""
    from _async_worker import run

    from django_apiauth.testing.fleet import spawn as spawn_processes

    outcomes = spawn_processes(run, configs, timeout)
    for outcome in outcomes:
        if any("Traceback" in e for e in outcome["errors"]):
            sys.exit(outcome["errors"][0])
    return outcomes


async def timed_calls(call, count: int, concurrency: int) -> float:
    """Seconds for ``count`` calls made by ``concurrency`` tasks."""
    per_task = count // concurrency

    async def task():
        for _ in range(per_task):
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(concurrency)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifetime", type=int, default=4, help="token lifetime (s)")
    parser.add_argument("--lifetimes", type=int, default=3, help="lifetimes per run")
    parser.add_argument("--only", choices=["fleet", "calls"], help="run one half")
    args = parser.parse_args()
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        sys.exit("Redis is not reachable on 127.0.0.1:6379")

    leeway, margin = args.lifetime / 8, 0.5
    apiauth = {
        "ENCRYPTION_KEYS": [KEY],
        "ALLOW_INSECURE_LOOPBACK": True,
        "EXPIRY_LEEWAY": leeway,
        "REFRESH_MARGIN": margin,
    }
    cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    setup(APIAUTH=apiauth)
    from django_apiauth.testing import start_sandbox

    server = start_sandbox()
    account = server.account
    credential = {
        "base_url": server.url,
        "api_key": account.api_key,
        "api_secret": account.api_secret,
    }

    def fleet(kinds: list[dict], **run) -> dict:
        server.state.reset()
        server.state.token_lifetime = args.lifetime
        server.state.set_delay(TOKEN_DELAY, "token")
        prefix = {**cache, "KEY_PREFIX": f"{RUN_PREFIX}-{uuid.uuid4().hex[:8]}"}
        base = {"cache": prefix, "apiauth": apiauth, "credential": credential, "leeway": leeway}
        outcomes = spawn([{**base, **kind, **run} for kind in kinds], timeout=120 + 60)
        return {
            "tokens": server.state.snapshot().get("token_requests", 0),
            "calls": sum(o["ok"] for o in outcomes),
            "failed": sum(len(o["errors"]) for o in outcomes),
            "slow": sum(o["slow"] for o in outcomes),
            "max_ms": max(o["max_ms"] for o in outcomes),
        }

    try:
        if args.only != "calls":
            run_fleet(args, fleet, server)
        if args.only != "fleet":
            asyncio.run(per_call(server.url, credential))
    finally:
        server.stop()
        delete_redis_keys(REDIS_URL, RUN_PREFIX)


def run_fleet(args, fleet, server) -> None:
    if True:
        print(f"sandbox on {server.url}; Redis cache; token endpoint answers in {TOKEN_DELAY}s\n")
        print(f"(1) cold start: {PROCESSES} processes x {TASKS} asyncio tasks, one call each")
        print(f"{'client':44} {'token requests':>14} {'ok calls':>9} {'failed':>7}")
        for label, kind in [
            ("django-apiauth AsyncApiClient", "apiauth"),
            ("httpx + authlib AsyncOAuth2Client per task", "authlib"),
        ]:
            r = fleet([{"kind": kind, "tasks": TASKS}] * PROCESSES)
            print(f"{label:44} {r['tokens']:>14} {r['calls']:>9} {r['failed']:>7}")

        duration = args.lifetime * args.lifetimes
        print(
            f"\n(2) {args.lifetimes} lifetimes of {args.lifetime}s tokens ({duration}s): "
            "2 async processes x 16 tasks + 2 sync processes x 4 threads, one Redis"
        )
        kinds = [{"kind": "apiauth", "tasks": 16}] * 2 + [{"kind": "sync", "threads": 4}] * 2
        r = fleet(kinds, duration=duration, pause=0.01, slow_after=0.05)
        print(
            f"token requests {r['tokens']} ({r['tokens'] / args.lifetimes:.1f} per lifetime), "
            f"ok calls {r['calls']}, failed {r['failed']}; calls that waited > 50 ms for a "
            f"token (first calls excepted): {r['slow']}, longest wait {r['max_ms']:.1f} ms"
        )
        server.state.set_delay(0, "token")


async def per_call(url: str, credential: dict) -> None:
    import httpx

    from django_apiauth.clients.asynchronous import AsyncApiClient
    from django_apiauth.models import ApiCredential
    from django_apiauth.testing.httpx_adapter import route

    # (3) in-process: the API calls go to a transport that answers at once (the token
    # still comes from the sandbox), so the client's own cost shows.
    answer = httpx.Response(200, json={"ok": True})
    transport = httpx.MockTransport(lambda request: answer)
    client = AsyncApiClient(ApiCredential(pk=2, name="mem", **credential))
    header = (await client.bearer.wait()).header  # a token in memory: the warm path
    static = {"Authorization": header}
    bare = httpx.AsyncClient(transport=transport, headers=static)

    class StaticHeader(AsyncApiClient):
        def create_http_client(self) -> httpx.AsyncClient:
            http = super().create_http_client()
            http.headers.update(static)  # a fixed header on the httpx.AsyncClient itself
            return http

    fixed = StaticHeader(client.credential)
    calls = {
        "AsyncApiClient, static header (auth='none')": lambda: fixed.get(
            "/api/merchant", auth="none"
        ),
        "AsyncApiClient, bearer from the store": lambda: client.get("/api/merchant"),
        "bare httpx.AsyncClient, static header": lambda: bare.get(url + "/api/merchant"),
    }
    best = {label: [] for label in calls}
    remove = route(url, transport)
    for _ in range(15):  # interleaved rounds, best of each: the machine is shared
        for label, call in calls.items():
            best[label].append(await timed_calls(call, 2000, 1) / 2000 * 1e6)
    remove()
    await client.aclose()
    print("\n(3) per call, in-process transport (no socket), best of 15 x 2000 calls")
    base = min(best["AsyncApiClient, static header (auth='none')"])
    for label, values in best.items():
        print(f"{label:48} {min(values):8.1f} us  {min(values) / base:5.3f}x")
    ratio = min(best["AsyncApiClient, bearer from the store"]) / base
    print(f"bearer auth on a memory hit vs a static header: ratio {ratio:.3f}")

    # (4) loopback, keep-alive sandbox.
    client = AsyncApiClient(ApiCredential(pk=3, name="loop", **credential))
    static = {"Authorization": (await client.bearer.wait()).header}
    bare = httpx.AsyncClient(headers=static)
    rounds = {"AsyncApiClient": [], "bare httpx.AsyncClient": []}
    for _ in range(3):
        rounds["AsyncApiClient"].append(
            await timed_calls(lambda: client.get("/api/merchant"), 800, 8)
        )
        rounds["bare httpx.AsyncClient"].append(
            await timed_calls(lambda: bare.get(url + "/api/merchant"), 800, 8)
        )
    print("\n(4) loopback sandbox (keep-alive), 8 tasks x 100 calls, best of 3")
    rates = {label: 800 / min(times) for label, times in rounds.items()}
    for label, rate in rates.items():
        print(f"{label:48} {rate:8.0f} req/s")
    spread = statistics.pstdev(rounds["AsyncApiClient"]) / statistics.mean(rounds["AsyncApiClient"])
    print(
        f"throughput ratio AsyncApiClient / bare httpx: "
        f"{rates['AsyncApiClient'] / rates['bare httpx.AsyncClient']:.3f} (spread {spread:.0%})"
    )
    await bare.aclose()
    await client.aclose()


if __name__ == "__main__":
    main()
