"""A fleet worker: a separate process (spawned, so nothing is inherited) running T threads.

Used by the live fleet tests and by ``benchmarks/bench_token_fleet.py``. The
worker configures a minimal Django of its own (same cache URL and encryption
key as the parent), waits on the shared barrier so every worker starts at
once, then calls the API. The default caller builds an *unsaved*
``ApiCredential`` (no database needed: the token store only reads attributes).
"""

from __future__ import annotations

import importlib
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["apiauth_caller", "configure_django", "hold_lease_forever", "run_fleet", "spawn"]


def configure_django(cache: dict[str, Any], apiauth: dict[str, Any]) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="fleet-worker",
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_apiauth"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            CACHES={"default": cache},
            APIAUTH=apiauth,
            USE_TZ=True,
        )
        django.setup()


def apiauth_caller(config: dict[str, Any]) -> Callable[[], int]:
    """One thread's way of calling the API: an ``ApiClient`` (the default caller)."""
    from django_apiauth.clients.sync import ApiClient
    from django_apiauth.models import ApiCredential

    credential = ApiCredential(pk=1, name=config.get("name", "fleet"), **config["credential"])
    client = ApiClient(credential)
    url_path = config.get("path", "/api/merchant")
    return lambda: client.get(url_path).status_code


def _load(dotted: str) -> Callable[[dict[str, Any]], Callable[[], int]]:
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


def run_worker(config: dict[str, Any], barrier: Any, results: Any) -> None:
    """Process entry point; puts ``{"ok": n, "errors": [...]}`` on ``results``.

    ``config["caller"]`` (``"module:function"``) builds each thread's call; each
    thread makes ``calls`` calls, or calls for ``duration`` seconds.
    """
    try:
        configure_django(config["cache"], config["apiauth"])
        make_caller = _load(config.get("caller", "django_apiauth.testing.fleet:apiauth_caller"))
        threads_count = config["threads"]
        duration = config.get("duration")
        calls = config.get("calls", 5)
        pause = config.get("pause", 0.0)
        ok = [0] * threads_count
        errors: list[str] = []
        # Built here, not in the threads: a failure must reach the parent, not hang a barrier.
        callers = [make_caller(config) for _ in range(threads_count)]
        start_threads = threading.Barrier(threads_count + 1)

        def thread_main(index: int) -> None:
            call = callers[index]
            start_threads.wait()
            deadline = time.monotonic() + duration if duration else None
            done = 0
            while (deadline and time.monotonic() < deadline) or (not deadline and done < calls):
                try:
                    status = call()
                    if status == 200:
                        ok[index] += 1
                    else:
                        errors.append(f"HTTP {status}")
                except Exception as err:  # reported to the parent, which fails the test
                    errors.append(f"{type(err).__name__}: {err}")
                done += 1
                if pause:
                    time.sleep(pause)

        threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(threads_count)]
        for thread in threads:
            thread.start()
        barrier.wait(timeout=60)  # every process is ready: go, all at once
        start_threads.wait()
        for thread in threads:
            thread.join()
        results.put({"ok": sum(ok), "errors": errors[:20]})
    except Exception:
        barrier.abort()  # the other workers stop waiting for this one
        results.put({"ok": 0, "errors": [traceback.format_exc()]})


def run_fleet(processes: int, config: dict[str, Any], timeout: float = 120) -> list[dict[str, Any]]:
    """Spawn ``processes`` workers with ``config`` and return their results."""
    return spawn(run_worker, [config] * processes, timeout)


def spawn(target: Any, configs: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """One spawned process per config running ``target(config, barrier, results)``.

    The barrier releases them all at once; each puts one result on the queue.
    Processes still alive after their result (or the timeout) are killed.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(configs)), context.Queue()
    workers = [context.Process(target=target, args=(c, barrier, results)) for c in configs]
    for worker in workers:
        worker.start()
    try:
        outcomes = [results.get(timeout=timeout) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    return outcomes


def hold_lease_forever(config: dict[str, Any], ready: Any) -> None:
    """Process entry point: start a token fetch (which takes the lease) and hang in it.

    The parent kills this process while the provider is still "answering": the
    lease stays behind, exactly as when a worker is OOM-killed mid-fetch.
    """
    configure_django(config["cache"], config["apiauth"])
    from django_apiauth.clients.sync import ApiClient
    from django_apiauth.models import ApiCredential

    credential = ApiCredential(pk=1, name="fleet", **config["credential"])
    ready.set()
    ApiClient(credential).access_token()
