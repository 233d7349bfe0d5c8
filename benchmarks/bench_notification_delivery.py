"""Exactly once: notifications through the ready-made route, served by several processes.

    .venv/bin/python benchmarks/bench_notification_delivery.py [--notifications 1000]
        [--processes 4] [--runs normal,redis-stopped] [--json]

Each run: ``--processes`` separate OS processes (``_notify_worker.py``: Django's
``ThreadedWSGIServer``, ``path("provider/", include("django_apiauth.urls"))``)
share a PostgreSQL database created for the script (``bench_apiauth_<pid>``,
dropped at the end) and a Redis server of its own on port 6392 as their Django
cache. The provider's side (``django_apiauth.testing``: signed payment and
transfer notifications, POSTed and retried after a non-2xx answer) sends every
notification once, round-robin over the processes, and 10 % of them again: half
of those a while later, half at the same moment to two processes at once. The
receiver adds a row per hand-over to a table without a unique constraint, so
the count per notification is the figure: every notification exactly once.

Runs: ``normal``, and ``redis-stopped`` (the Redis server is shut down half-way
through the deliveries). Exit 1 if a notification was handed over twice or
never; exit 0 with a message when PostgreSQL or ``redis-server`` is missing.
About 75 s for both runs on 2 shared cores; ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REDIS_PORT = 6392
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
DATABASE = f"bench_apiauth_{os.getpid()}"
CREDENTIAL = "bench"
RUNS = ("normal", "redis-stopped")


@dataclass
class Result:
    run: str
    notifications: int
    redeliveries: int
    concurrent: int
    posts: int
    handed: int
    duplicates: int
    missing: int
    not_200: int
    deferred: int
    seconds: float
    redis_stopped_after: int | None = None

    @property
    def exactly_once(self) -> bool:
        return self.duplicates == 0 and self.missing == 0 and self.handed == self.notifications


def unavailable() -> str | None:
    """Why the benchmark cannot run here, or ``None``."""
    for module in ("psycopg", "redis"):
        try:
            __import__(module)
        except ImportError:
            return f"the Python package {module} is not installed (pip install --group test)"
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError as err:
        return f"PostgreSQL is not reachable on 127.0.0.1:5432 ({err})"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (the benchmark starts its own on port 6392)"
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", REDIS_PORT)) == 0:
            return f"port {REDIS_PORT} is taken (the benchmark starts its own Redis there)"
    return None


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn:
        conn.autocommit = True
        conn.execute(statement)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port}")


def start_redis() -> subprocess.Popen:
    process = subprocess.Popen(
        [
            *("redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(REDIS_PORT, process, "redis-server")
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_workers(count: int, receiver_ms: float) -> tuple[list[subprocess.Popen], list[int]]:
    env = {
        **os.environ,
        "BENCH_NOTIFY_DATABASE": DATABASE,
        "BENCH_NOTIFY_REDIS": REDIS_URL,
        "BENCH_RECEIVER_MS": str(receiver_ms),
    }
    ports = [free_port() for _ in range(count)]
    workers = [
        subprocess.Popen([sys.executable, str(HERE / "_notify_worker.py"), str(port)], env=env)
        for port in ports
    ]
    for port, worker in zip(ports, workers, strict=True):
        wait_for_port(port, worker, f"worker on {port}")
    return workers, ports


def prepare_database() -> object:
    """Create the database and the receipts table; the signing account for the sender."""
    from _django import setup

    admin_sql(f'CREATE DATABASE "{DATABASE}"')
    database = {"ENGINE": "django.db.backends.postgresql", "HOST": "127.0.0.1"}
    setup(
        DATABASES={"default": {**database, "USER": "postgres", "NAME": DATABASE}},
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
            }
        },
    )
    from django.core.management import call_command
    from django.db import connection

    from django_apiauth.models import ApiCredential
    from django_apiauth.testing import Account

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        # No unique constraint on purpose: a second hand-over is a second row.
        cursor.execute("CREATE TABLE bench_receipts (identity text NOT NULL, pid integer NOT NULL)")
    account = Account.generate()
    credential = ApiCredential(name=CREDENTIAL, base_url="https://provider.invalid")
    credential.signature_secret = account.signature_secret
    credential.save()
    connection.close()
    return account


class Sender:
    """The provider's side: deliveries round-robin over the processes, counted."""

    def __init__(self, ports: list[int], threads: int) -> None:
        self.routes = [
            f"http://127.0.0.1:{port}/provider/notifications/{CREDENTIAL}" for port in ports
        ]
        self.pool = ThreadPoolExecutor(threads)
        self.local = threading.local()
        self.lock = threading.Lock()
        self.turn = 0
        self.posts = 0
        self.not_200 = 0

    def next_route(self) -> str:
        with self.lock:
            self.turn += 1
            return self.routes[self.turn % len(self.routes)]

    def send(self, kind: str, body: dict, route: str | None = None) -> None:
        import requests

        from django_apiauth.testing import deliver

        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        url = f"{route or self.next_route()}/{kind}/"
        delivery = deliver(url, body, attempts=6, backoff=0.05, timeout=30, session=session)
        with self.lock:
            self.posts += delivery.attempts
            self.not_200 += delivery.status != 200

    def send_together(self, kind: str, body: dict) -> None:
        """The same notification to two processes at the same moment."""
        routes = [self.next_route(), self.next_route()]
        start = threading.Barrier(2)

        def one(route: str) -> None:
            start.wait(timeout=30)
            self.send(kind, body, route)

        pair = [threading.Thread(target=one, args=(route,)) for route in routes]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()

    def wave(self, jobs: list) -> None:
        for future in [self.pool.submit(job, *args) for job, *args in jobs]:
            future.result()


def plan(account, count: int, share: float, seed: int):
    """The notifications (kind, identity, body) and which are sent again, late or at once."""
    from django_apiauth.testing import payment_notification, transfer_notification

    rng = random.Random(seed)
    notifications = []
    for index in range(count):
        identity = f"n{seed}_{index:05d}_{rng.getrandbits(32):08x}"
        if index % 2:
            body = transfer_notification(account, transfer_order_item_uid=identity)
            notifications.append(("transfer", identity, body))
        else:
            notifications.append(("payment", identity, payment_notification(account, id=identity)))
    again = rng.sample(range(count), round(count * share))
    return notifications, set(again[: len(again) // 2]), set(again[len(again) // 2 :])


def ensure_cache_down(cache) -> None:
    """The Django cache of every process is really gone from here on."""
    try:
        cache.get("bench-probe")
    except Exception:
        return
    raise RuntimeError("Redis still answers after it was shut down")


def run_once(name: str, account, args, seed: int) -> Result:
    from django.core.cache import cache
    from django.db import connection

    redis = start_redis()
    workers, ports = start_workers(args.processes, args.receiver_ms)
    sender = Sender(ports, args.senders)
    notifications, together, late = plan(account, args.notifications, args.redelivered, seed)
    waves = 10
    size = -(-len(notifications) // waves)
    stopped_after = None
    started = time.perf_counter()
    try:
        pending_late: list = []
        for start in range(0, len(notifications), size):
            if (
                name == "redis-stopped"
                and stopped_after is None
                and start >= len(notifications) / 2
            ):
                stop(redis)
                stopped_after = sender.posts
                ensure_cache_down(cache)
            jobs = list(pending_late)
            pending_late = []
            for position in range(start, min(start + size, len(notifications))):
                kind, _identity, body = notifications[position]
                jobs.append(
                    (sender.send_together if position in together else sender.send, kind, body)
                )
                if position in late:
                    pending_late.append((sender.send, kind, body))
            rng = random.Random(seed + start)
            rng.shuffle(jobs)
            sender.wave(jobs)
        sender.wave(pending_late)
        seconds = time.perf_counter() - started
    finally:
        sender.pool.shutdown()
        for worker in workers:
            stop(worker)
        stop(redis)
    with connection.cursor() as cursor:
        cursor.execute("SELECT identity, count(*) FROM bench_receipts GROUP BY identity")
        counted = dict(cursor.fetchall())
        cursor.execute(
            "SELECT count(*) FROM django_apiauth_notificationdelivery WHERE outcome = 'deferred'"
        )
        (deferred,) = cursor.fetchone()
        cursor.execute("TRUNCATE bench_receipts, django_apiauth_notificationdelivery")
    connection.close()
    expected = {identity for _kind, identity, _body in notifications}
    return Result(
        run=name,
        notifications=len(notifications),
        redeliveries=len(together) + len(late),
        concurrent=len(together),
        posts=sender.posts,
        handed=len(expected & counted.keys()),
        duplicates=sum(count - 1 for count in counted.values()) + len(counted.keys() - expected),
        missing=len(expected - counted.keys()),
        not_200=sender.not_200,
        deferred=deferred,
        seconds=round(seconds, 1),
        redis_stopped_after=stopped_after,
    )


def print_table(results: list[Result], args) -> None:
    print(
        f"\nExactly once: {args.notifications} notifications (half payments, half transfers) "
        f'through include("django_apiauth.urls"), {args.processes} processes, '
        "PostgreSQL + Redis"
    )
    header = (
        f"{'run':<15} {'notifications':>13} {'redeliveries':>17} {'POSTs':>6} "
        f"{'handed to receiver':>18} {'duplicates handed':>17} {'missing':>7} "
        f"{'503 deferred':>12} {'not 200':>7} {'time':>8}"
    )
    print(header)
    for r in results:
        again = f"{r.redeliveries} ({r.concurrent} at once)"
        print(
            f"{r.run:<15} {r.notifications:>13} {again:>17} {r.posts:>6} {r.handed:>18} "
            f"{r.duplicates:>17} {r.missing:>7} {r.deferred:>12} {r.not_200:>7} "
            f"{r.seconds:>6.1f} s"
        )
    for r in results:
        if r.redis_stopped_after is not None:
            print(f"{r.run}: Redis shut down after {r.redis_stopped_after} POSTs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--redelivered", type=float, default=0.10, help="share sent twice")
    parser.add_argument("--senders", type=int, default=16, help="sender threads")
    parser.add_argument("--receiver-ms", type=float, default=5, help="receiver's own time")
    parser.add_argument("--runs", default=",".join(RUNS), help="normal,redis-stopped")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    runs = [run for run in args.runs.split(",") if run]
    if not runs or set(runs) - set(RUNS):
        parser.error(f"--runs takes {', '.join(RUNS)}")
    reason = unavailable()
    if reason:
        print(f"bench_notification_delivery skipped: {reason}")
        return 0
    results = []
    try:
        account = prepare_database()
        for seed, name in enumerate(runs, start=1):
            results.append(run_once(name, account, args, seed))
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    print_table(results, args)
    if args.json:
        print(json.dumps([{**asdict(r), "exactly_once": r.exactly_once} for r in results]))
    failed = [r.run for r in results if not r.exactly_once]
    if failed:
        print(f"NOT exactly once: {', '.join(failed)}")
        return 1
    print("every notification handed to the receiver exactly once, in every run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
