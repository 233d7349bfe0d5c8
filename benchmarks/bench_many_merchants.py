"""Many merchants in one process: open file descriptors and memory per credential.

    .venv/bin/python benchmarks/bench_many_merchants.py [N]      # N = 2000 by default

``N`` credentials of one provider host (``django_apiauth.testing.start_sandbox()``,
a keep-alive HTTP/1.1 server, run in a child process so that its sockets are
not counted here) each get ``get_client(name)`` and one authenticated GET: a
token fetch and a call. Then this process's open file descriptors are counted
(``/proc/self/fd``) and the memory it allocated for them is measured twice:
``tracemalloc`` (Python allocations still held after a ``gc.collect()``) and
the resident set size (``/proc/self/statm``, which also counts the allocator's
own slack). Both are divided by ``N``; an access token is 43 characters here.

The figures of issue 22: <= 50 open file descriptors and <= 5 KB per
credential beyond its token, for 2,000 credentials.
"""

import gc
import multiprocessing
import os
import sys
import time
import tracemalloc

from _django import KEY, setup

setup(APIAUTH={"ENCRYPTION_KEYS": [KEY], "ALLOW_INSECURE_LOOPBACK": True})

from django.core.management import call_command  # noqa: E402

from django_apiauth.client import get_client  # noqa: E402
from django_apiauth.models import ApiCredential  # noqa: E402
from django_apiauth.testing import Account, SandboxState, start_sandbox  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def serve(count, pipe):
    accounts = [
        Account.generate(api_key=f"key-{i:05d}", api_secret=f"secret-{i:05d}-0123456789")
        for i in range(count + 1)
    ]
    server = start_sandbox(state=SandboxState(accounts=accounts))
    pipe.send(server.url)
    pipe.recv()  # until the parent is done
    server.stop()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    call_command("migrate", verbosity=0)
    parent, child = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(N, child))
    server.start()
    url = parent.recv()
    try:
        ApiCredential.objects.bulk_create(
            ApiCredential(
                name=f"m-{i:05d}",
                base_url=url,
                api_key=f"key-{i:05d}",
                api_secret=f"secret-{i:05d}-0123456789",
            )
            for i in range(N + 1)
        )
        # One merchant first: imports, the database connection and lazy set-ups.
        assert get_client(f"m-{N:05d}").get("/api/merchant").status_code == 200
        gc.collect()
        fds, resident = open_fds(), rss()
        tracemalloc.start()
        held = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        for i in range(N):
            response = get_client(f"m-{i:05d}").get("/api/merchant")
            assert response.status_code == 200, response.status_code
        elapsed = time.perf_counter() - started
        gc.collect()
        python = tracemalloc.get_traced_memory()[0] - held
        tracemalloc.stop()
        resident = rss() - resident
        fds_after = open_fds()
    finally:
        parent.send("done")
        server.join()
    print(f"{N} credentials of one provider host, get_client + one GET each ({elapsed:.1f} s)")
    print(f"  open file descriptors: {fds} before, {fds_after} after")
    print(f"  Python memory held (tracemalloc): {python / N:,.0f} bytes per credential")
    print(f"  resident set size growth: {resident / N:,.0f} bytes per credential")
    print("  target: <= 50 open file descriptors, <= 5 KB per credential beyond its token")


if __name__ == "__main__":
    main()
