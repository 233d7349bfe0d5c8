"""Fault soak: the two promises under revocations, SIGKILLs, Redis restarts, dead connections.

    .venv/bin/python benchmarks/soak_faults.py [--duration 600] [--notifications 5000]
        [--processes 3] [--seed 1] [--json]

Real processes (``_soak_worker.py``: Django's ``ThreadedWSGIServer`` with the
ready-made notification routes, plus token traffic through ``get_client``)
share a PostgreSQL database created for the run (``soak_apiauth_<pid>``,
dropped at the end) and a private ``redis-server`` on a free port (key prefix
``apiauth-soak``; never the shared Redis). The provider is the live sandbox
(``django_apiauth.testing.start_sandbox``) in this process, with 20 s tokens.

For ``--duration`` seconds, while the provider's side sends ``--notifications``
signed payment notifications (retried after any non-200 answer, as the
provider does, until accepted) and 5 % of them again at once to another
process, the soak:

* revokes every token at random intervals (exponential, mean 6 s; one in four
  only 0.5-2 s after the previous one);
* SIGKILLs a worker every ~8 s, preferably while a receiver runs (some
  receivers are slower than ``NOTIFICATION_CLAIM_TIMEOUT``), and restarts it;
* restarts Redis every ~25 s (its data is lost);
* terminates the workers' database connections (``pg_terminate_backend``) every ~5 s.

Then a history checker verifies from the outside: notifications lost (no
effect row), notifications committed twice (two rows), ``accepted`` log rows
per notification, the token calls' outcomes (200; refused by the provider after
the replay; refused during the documented back-off; anything else — an
exception or another status — counts as an app error), and token requests
against the allowance (one per refresh cycle per credential fleet-wide, plus
one per revocation, Redis restart and worker start). Exit 1 if a promise broke.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_notification_delivery import (
    admin_sql,
    free_port,
    stop,
    unavailable,
    wait_for_port,
)

HERE = Path(__file__).resolve().parent
DATABASE = f"soak_apiauth_{os.getpid()}"
TOKEN_LIFETIME = 20
CREDENTIAL = "soak"


class Redis:
    """A private redis-server that can be restarted (same port, data lost)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, "redis-server")

    def restart(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.start()
        self.restarts += 1


class Fleet:
    """The worker processes, each on its own port; a killed one is restarted on it."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.env = env
        self.ports = [free_port() for _ in range(count)]
        self.workers: list[subprocess.Popen] = [None] * count  # type: ignore[list-item]
        self.starts = 0
        self.kills = 0
        self.lock = threading.Lock()
        for index in range(count):
            self.start(index)

    def start(self, index: int) -> None:
        port = self.ports[index]
        # Their stderr (tracebacks of terminated connections, expected here) goes to a file.
        with open(self.env["SOAK_LOG"] + ".err", "a") as stderr:
            worker = subprocess.Popen(
                [sys.executable, str(HERE / "_soak_worker.py"), str(port)],
                env=self.env,
                stderr=stderr,
            )
        wait_for_port(port, worker, f"worker on {port}")
        self.workers[index] = worker
        self.starts += 1

    def kill_one(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.workers))
        with self.lock:
            self.workers[index].send_signal(signal.SIGKILL)
            self.workers[index].wait()
            self.kills += 1
            self.start(index)

    def stop(self) -> None:
        for worker in self.workers:
            stop(worker)


def prepare(sandbox) -> None:
    from _django import setup

    admin_sql(f'CREATE DATABASE "{DATABASE}"')
    setup(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": "127.0.0.1",
                "USER": "postgres",
                "NAME": DATABASE,
            }
        },
        APIAUTH={
            "ENCRYPTION_KEYS": ["ZmRjN2Y0YzE2ZDVkNDk4OThhNGFhYzBkYjQ3ZDc1Mjc="],
            "ALLOW_INSECURE_LOOPBACK": True,
        },
    )
    from django.core.management import call_command
    from django.db import connection

    from django_apiauth.models import ApiCredential

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE soak_effects (identity text NOT NULL, pid integer NOT NULL)")
    account = sandbox.account
    ApiCredential.objects.create(
        name=CREDENTIAL,
        base_url=sandbox.url,
        api_key=account.api_key,
        api_secret=account.api_secret,
        signature_secret=account.signature_secret,
    )
    connection.close()


def terminate_connections() -> int:
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn:
        conn.autocommit = True
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [DATABASE],
        ).fetchall()
    return len(rows)


class Sender:
    """The provider's side: each notification POSTed until a process answers 200."""

    def __init__(self, fleet: Fleet, threads: int) -> None:
        self.fleet = fleet
        self.pool = ThreadPoolExecutor(threads)
        self.local = threading.local()
        self.lock = threading.Lock()
        self.posts = self.not_200 = self.deferred = 0
        self.gave_up: list[str] = []

    def send(self, body: dict, rng_seed: int) -> None:
        import requests

        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        rng = random.Random(rng_seed)
        ports = self.fleet.ports
        for attempt in range(200):
            url = (
                f"http://127.0.0.1:{rng.choice(ports)}/provider/notifications/{CREDENTIAL}/payment/"
            )
            try:
                status = session.post(url, json=body, timeout=30).status_code
            except requests.RequestException:
                status = 0
            with self.lock:
                self.posts += 1
                self.not_200 += status != 200
                self.deferred += status == 503
            if status == 200:
                return
            time.sleep(min(0.05 * 2**attempt, 2.0))
        with self.lock:
            self.gave_up.append(body["id"])


def faults(
    stop_at: float, stopping: threading.Event, sandbox, redis: Redis, fleet: Fleet, rng, tally
) -> None:
    """Revocations, SIGKILLs, Redis restarts and terminated connections until ``stop_at``."""
    now = time.monotonic()
    next_revoke = now + rng.expovariate(1 / 6)
    next_kill, next_redis, next_pg = now + 8, now + 25, now + 5
    while not stopping.is_set() and time.monotonic() < stop_at:
        now = time.monotonic()
        if now >= next_revoke:
            sandbox.state.revoke_tokens()
            tally["revocations"] += 1
            gap = rng.uniform(0.5, 2) if rng.random() < 0.25 else rng.expovariate(1 / 6)
            next_revoke = now + gap
        if now >= next_kill:
            fleet.kill_one(rng)
            next_kill = now + rng.uniform(4, 12)
        if now >= next_redis:
            redis.restart()
            next_redis = now + rng.uniform(15, 35)
        if now >= next_pg:
            tally["connections_terminated"] += terminate_connections()
            tally["terminations"] += 1
            next_pg = now + rng.uniform(2, 8)
        time.sleep(0.05)


def check_calls(log_path: Path) -> dict[str, int]:
    outcomes = {
        "calls": 0,
        "ok": 0,
        "refused_after_replay": 0,
        "refused_no_replay": 0,
        "app_errors": 0,
    }
    errors: dict[str, int] = {}
    for line in log_path.read_text().splitlines():
        _at, status, replays, error = line.split(" ", 3)
        outcomes["calls"] += 1
        if status == "200":
            outcomes["ok"] += 1
        elif status == "401":
            outcomes["refused_after_replay" if replays != "0" else "refused_no_replay"] += 1
        else:
            outcomes["app_errors"] += 1
            errors[f"{status} {error}"] = errors.get(f"{status} {error}", 0) + 1
    outcomes["app_error_kinds"] = errors  # type: ignore[assignment]
    return outcomes


def run(args) -> dict:
    from django_apiauth.testing import SandboxState, payment_notification, start_sandbox

    rng = random.Random(args.seed)
    sandbox = start_sandbox(state=SandboxState(token_lifetime=TOKEN_LIFETIME))
    prepare(sandbox)
    redis = Redis()
    redis.start()
    log_path = Path(f"/tmp/soak_calls_{os.getpid()}.log")
    log_path.write_text("")
    env = {
        **os.environ,
        "SOAK_DATABASE": DATABASE,
        "SOAK_REDIS": redis.url,
        "SOAK_LOG": str(log_path),
        "SOAK_CALLERS": str(args.callers),
    }
    fleet = Fleet(args.processes, env)
    sender = Sender(fleet, args.senders)
    tally = {"revocations": 0, "terminations": 0, "connections_terminated": 0}
    stopping = threading.Event()
    started = time.monotonic()
    fault_thread = threading.Thread(
        target=faults, args=(started + args.duration, stopping, sandbox, redis, fleet, rng, tally)
    )
    fault_thread.start()
    bodies = [
        payment_notification(sandbox.account, id=f"s{args.seed}_{i:06d}")
        for i in range(args.notifications)
    ]
    pace = args.duration / max(1, args.notifications)
    futures = []
    try:
        for index, body in enumerate(bodies):
            futures.append(sender.pool.submit(sender.send, body, args.seed * 1_000_003 + index))
            if rng.random() < 0.05:  # the same notification at once to another process
                futures.append(sender.pool.submit(sender.send, body, args.seed + index))
            # Spread the notifications over the duration, so faults land among them.
            time.sleep(max(0.0, started + pace * index - time.monotonic()))
        for future in futures:
            future.result()
        fault_thread.join()  # the token traffic goes on for the whole duration
    finally:
        stopping.set()
        fault_thread.join()
        sender.pool.shutdown()
        fleet.stop()
        if redis.process is not None:
            stop(redis.process)
        sandbox.stop()
    seconds = time.monotonic() - started
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT identity, count(*) FROM soak_effects GROUP BY identity")
        effects = dict(cursor.fetchall())
        cursor.execute(
            "SELECT notification_id, count(*) FROM django_apiauth_notificationdelivery "
            "WHERE outcome = 'accepted' GROUP BY notification_id"
        )
        accepted = dict(cursor.fetchall())
        cursor.execute(
            "SELECT outcome, count(*) FROM django_apiauth_notificationdelivery GROUP BY outcome"
        )
        outcomes = dict(cursor.fetchall())
    connection.close()
    expected = {body["id"] for body in bodies}
    counters = sandbox.state.snapshot()
    cycles = seconds / (TOKEN_LIFETIME * 0.75)  # refresh starts at most a quarter before expiry
    allowance = int(cycles) + 1 + tally["revocations"] + redis.restarts + fleet.starts
    calls = check_calls(log_path)
    log_path.unlink()
    Path(f"{log_path}.err").unlink(missing_ok=True)
    return {
        "seconds": round(seconds, 1),
        "processes": args.processes,
        "notifications": len(bodies),
        "posts": sender.posts,
        "not_200_answers": sender.not_200,
        "deferred_503": sender.deferred,
        "lost": len(expected - effects.keys()),
        "committed_twice": sum(1 for count in effects.values() if count > 1),
        "accepted_rows_not_one": sum(1 for i in expected if accepted.get(i, 0) != 1),
        "sender_gave_up": len(sender.gave_up),
        "log_outcomes": outcomes,
        "revocations": tally["revocations"],
        "workers_killed": fleet.kills,
        "redis_restarts": redis.restarts,
        "pg_terminations": tally["terminations"],
        "connections_terminated": tally["connections_terminated"],
        "token_requests": counters.get("token_requests", 0),
        "token_request_allowance": allowance,
        "token_calls": calls,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--notifications", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--callers", type=int, default=2, help="token-traffic threads per process")
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reason = unavailable()
    if reason and "6392" not in reason:  # that port is the delivery benchmark's, not ours
        print(f"soak skipped: {reason}")
        return 0
    try:
        result = run(args)
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    calls = result["token_calls"]
    broken = (
        result["lost"]
        or result["committed_twice"]
        or result["accepted_rows_not_one"]
        or calls["app_errors"]
        or result["token_requests"] > result["token_request_allowance"]
    )
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(f"{name:>26}: {value}")
        print("PROMISES BROKEN" if broken else "all promises held")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
