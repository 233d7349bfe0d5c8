"""Worker processes of ``bench_async.py``: asyncio tasks (or sync threads) calling the sandbox.

Spawned (nothing inherited); each configures a minimal Django of its own with
the parent's cache and key (``django_apiauth.testing.fleet.configure_django``),
waits on the shared barrier so every worker starts at once, then calls
``GET /api/merchant`` and reports ``{"ok", "errors", "slow", "max_ms"}``: the
calls whose wait for a token took longer than ``slow_after`` seconds, and the
longest such wait (the first call of each caller, which may wait for the cold
fetch, excepted). The wait is timed apart from the HTTP call, so a busy
sandbox does not count as a caller waiting on a refresh.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import traceback
from typing import Any

PATH = "/api/merchant"


def _credential(config: dict[str, Any]) -> Any:
    from django_apiauth.models import ApiCredential

    return ApiCredential(pk=1, name="bench", **config["credential"])


class Tally:
    def __init__(self, slow_after: float) -> None:
        self.ok, self.slow, self.max, self.errors = 0, 0, 0.0, []
        self.slow_after = slow_after
        self.lock = threading.Lock()

    def add(self, waited: float, status: int | None, error: str = "", first: bool = False):
        elapsed = waited
        with self.lock:
            if status == 200:
                self.ok += 1
            else:
                self.errors.append(error or f"HTTP {status}")
            if not first:  # the first call of a caller may wait for the cold fetch
                self.slow += elapsed > self.slow_after
                self.max = max(self.max, elapsed)

    def result(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": self.errors[:5],
            "slow": self.slow,
            "max_ms": self.max * 1e3,
        }


async def _apiauth_tasks(config: dict[str, Any], tally: Tally, go: Any) -> None:
    from django_apiauth.clients.asynchronous import AsyncApiClient

    client = AsyncApiClient(_credential(config))

    async def call(client: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        await client.bearer.token()  # what the call does first; timed on its own
        waited = time.perf_counter() - started
        return waited, await client.get(PATH)

    await _run_tasks(config, tally, go, lambda: client, call)


async def _authlib_tasks(config: dict[str, Any], tally: Tally, go: Any) -> None:
    """httpx + authlib's ``AsyncOAuth2Client`` per task, as its documentation shows."""
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the sandbox is http:// on loopback
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    credential = config["credential"]
    base = credential["base_url"]

    def make() -> Any:
        return AsyncOAuth2Client(
            credential["api_key"],
            credential["api_secret"],
            token_endpoint=base + "/api/token",
            grant_type="client_credentials",
            leeway=config["leeway"],
        )

    async def call(client: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        if not client.token:
            await client.fetch_token()
        waited = time.perf_counter() - started
        return waited, await client.get(base + PATH)

    await _run_tasks(config, tally, go, make, call)


async def _run_tasks(config, tally, go, make, call) -> None:
    tasks, duration = config["tasks"], config.get("duration")
    clients = [make() for _ in range(tasks)]
    await asyncio.to_thread(go)  # every process is ready: go, all at once

    async def task(client: Any) -> None:
        deadline = time.monotonic() + duration if duration else None
        first = True
        while first or (deadline and time.monotonic() < deadline):
            try:
                waited, response = await call(client)
                tally.add(waited, response.status_code, first=first)
            except Exception as err:
                tally.add(0.0, None, f"{type(err).__name__}: {err}", first=first)
            first = False
            if config.get("pause"):
                await asyncio.sleep(config["pause"])

    await asyncio.gather(*(task(c) for c in clients))


def _sync_threads(config: dict[str, Any], tally: Tally, go: Any) -> None:
    from django_apiauth.client import ApiClient

    credential = _credential(config)
    start = threading.Barrier(config["threads"] + 1)

    def thread_main() -> None:
        client = ApiClient(credential)
        start.wait()
        deadline = time.monotonic() + config["duration"]
        first = True
        while first or time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                client.store.get()  # what the call does first; timed on its own
                waited = time.perf_counter() - started
                tally.add(waited, client.get(PATH).status_code, first=first)
            except Exception as err:
                tally.add(0.0, None, f"{type(err).__name__}: {err}", first=first)
            first = False
            time.sleep(config.get("pause", 0))

    threads = [threading.Thread(target=thread_main) for _ in range(config["threads"])]
    for thread in threads:
        thread.start()
    go()
    start.wait()
    for thread in threads:
        thread.join()


def run(config: dict[str, Any], barrier: Any, results: Any) -> None:
    """Process entry point: ``config["kind"]`` is ``apiauth``, ``authlib`` or ``sync``."""
    try:
        from django_apiauth.testing.fleet import configure_django

        configure_django(config["cache"], config["apiauth"])
        tally = Tally(config.get("slow_after", 0.2))

        def go() -> None:
            barrier.wait(timeout=60)

        kind = config["kind"]
        if kind == "sync":
            _sync_threads(config, tally, go)
        else:
            runner = _apiauth_tasks if kind == "apiauth" else _authlib_tasks
            asyncio.run(runner(config, tally, go))
        results.put(tally.result())
    except Exception:
        barrier.abort()
        results.put({"ok": 0, "errors": [traceback.format_exc()], "slow": 0, "max_ms": 0})
