"""A fleet worker that times every call, for ``bench_fleet_waits.py`` (spawned processes).

Each thread calls ``GET /api/merchant`` through its own ``ApiClient`` for
``duration`` seconds. Before each call it looks at the token store's memory:
a call made while no usable token was there (after the thread's first success)
counts as *blocked* — the caller had to wait for a token.
"""

from __future__ import annotations

import array
import threading
import time
import traceback
from typing import Any


def worker(config: dict[str, Any], barrier: Any, results: Any) -> None:
    try:
        from django_apiauth.testing.fleet import configure_django

        configure_django(config["cache"], config["apiauth"])
        from django_apiauth.client import ApiClient
        from django_apiauth.models import ApiCredential

        credential = ApiCredential(pk=1, name="fleet", **config["credential"])
        threads_count, duration, pause = config["threads"], config["duration"], config["pause"]
        clients = [ApiClient(credential) for _ in range(threads_count)]
        durations: list[list[float]] = [[] for _ in range(threads_count)]
        blocked = [0] * threads_count
        first_ok: list[float | None] = [None] * threads_count
        errors: list[str] = []
        start = threading.Barrier(threads_count + 1)

        def run(index: int) -> None:
            client, store = clients[index], clients[index].store
            start.wait()
            end = time.monotonic() + duration
            warm = False
            while time.monotonic() < end:
                token = store.cached()
                usable = token is not None and time.monotonic() < token.use_until
                began = time.perf_counter()
                try:
                    status = client.get("/api/merchant").status_code
                except Exception as err:  # counted and reported by the parent
                    errors.append(type(err).__name__)
                    status = None
                took = time.perf_counter() - began
                if warm:
                    durations[index].append(took)
                    blocked[index] += not usable
                if status == 200 and not warm:
                    warm, first_ok[index] = True, time.time()
                elif status not in (200, None):
                    errors.append(f"HTTP {status}")
                time.sleep(pause)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(threads_count)]
        for thread in threads:
            thread.start()
        barrier.wait(timeout=120)
        start.wait()
        for thread in threads:
            thread.join()
        flat = array.array("d", [d for per_thread in durations for d in per_thread])
        results.put(
            {
                "durations": flat.tobytes(),
                "blocked": sum(blocked),
                "first_ok": [t for t in first_ok if t is not None],
                "errors": errors[:10],
                "error_count": len(errors),
            }
        )
    except Exception:
        barrier.abort()
        results.put({"traceback": traceback.format_exc()})


def run(processes: int, config: dict[str, Any], during: Any = None) -> list[dict[str, Any]]:
    """Spawn the fleet; ``during(started_at)`` runs in the parent while it works."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [
        context.Process(target=worker, args=(config, barrier, results)) for _ in range(processes)
    ]
    for process in workers:
        process.start()
    try:
        barrier.wait(timeout=120)
        if during is not None:
            during(time.time())
        outcomes = [results.get(timeout=config["duration"] + 120) for _ in workers]
    finally:
        for process in workers:
            process.join(timeout=20)
            if process.is_alive():
                process.kill()
    for outcome in outcomes:
        if "traceback" in outcome:
            raise SystemExit(outcome["traceback"])
        outcome["durations"] = array.array("d", outcome["durations"]).tolist()
    return outcomes
