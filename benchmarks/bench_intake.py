"""Notification intake against a bare view: gunicorn, PostgreSQL, concurrency 8.

    .venv/bin/python benchmarks/bench_intake.py [--seconds 8] [--repetitions 3] [--json]

One gunicorn (``-w 2 -k gthread --threads 4``) serves ``_intake_site``: payments
and transfers through ``include("django_apiauth.urls")`` (a receiver doing one
INSERT), and bare views that parse the same JSON, check the same signature and
do the same INSERT, ``atomic hash``: the bare view with its INSERT in a
transaction, and ``floor hash``: the bare view plus the intake's
transaction in raw SQL (see ``_intake_site``), the cost of the design
itself. ``wrk`` (8 connections, 2 threads) POSTs notifications
that are all new — each body is used once — to each of the four routes in
turn, ``--repetitions`` interleaved rounds (the order rotates per round).
Printed: req/s, p50 and p99 as min/median/max over the rounds, the ratios
intake/bare, and the delivery log's size per accepted delivery right after
the runs (``pg_total_relation_size`` / rows, no VACUUM). A database
``bench_intake_<pid>`` is created on the PostgreSQL service and dropped at
the end. Exit 0 with a message when PostgreSQL, gunicorn or wrk is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jwt

HERE = Path(__file__).resolve().parent
DATABASE = f"bench_intake_{os.getpid()}"
os.environ["BENCH_INTAKE_DATABASE"] = DATABASE
sys.path.insert(0, str(HERE))

ROUTES = {
    "intake hash": "/provider/notifications/bench/payment/",
    "bare hash": "/bare/payment/",
    "floor hash": "/floor/payment/",
    "atomic hash": "/bare-atomic/payment/",
    "intake jwt": "/provider/notifications/bench/transfer/",
    "bare jwt": "/bare/transfer/",
}
#: The ratios printed; the targets concern the first two (req/s >= 0.8, p99 <= 1.5).
PAIRS = [
    ("intake hash", "bare hash"),
    ("intake jwt", "bare jwt"),
    ("atomic hash", "bare hash"),
    ("floor hash", "bare hash"),
    ("intake hash", "floor hash"),
]
CONNECTIONS, WRK_THREADS = 8, 2
#: Bodies written per route and round: more than wrk can send in the run.
RATE_CEILING = 3000

LUA = """
local bodies, path, n, step = {}, nil, 0, 0
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end
function init(args)
  path, step = args[1], tonumber(args[3])
  for line in io.lines(args[2]) do bodies[#bodies + 1] = line end
  n = tid
end
function request()
  local body = bodies[n + 1]
  n = n + step
  if body == nil then body = bodies[1] end  -- out of bodies: duplicates (counted below)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "seconds": %f, "non2xx": %d, "errors": %d, '
    .. '"p50": %f, "p99": %f}\\n', summary.requests, summary.duration / 1e6,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def missing() -> str | None:
    if shutil.which("wrk") is None:
        return "wrk is not installed (apt-get install wrk)"
    if shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None:
        return "gunicorn is not installed (pip install -e '.[bench]')"
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return "PostgreSQL is not reachable on 127.0.0.1:5432"
    return None


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(statement)


def prepare() -> None:
    import _intake_site
    from django.core.management import call_command
    from django.db import connection

    from django_apiauth.models import ApiCredential

    call_command("migrate", verbosity=0)
    ApiCredential.objects.create(
        name=_intake_site.CREDENTIAL,
        base_url="https://provider.example",
        api_key="bench-api-key",
        api_secret="bench-api-secret",
        signature_secret=_intake_site.SECRET,
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_receipts (id bigserial PRIMARY KEY, identity text)")
        cursor.execute(
            "CREATE TABLE bench_floor_log (LIKE django_apiauth_notificationdelivery INCLUDING ALL)"
        )
    connection.close()


def bodies(kind: str, label: str, count: int) -> list[str]:
    from _intake_site import SECRET

    from django_apiauth.signing import notification_digest

    out = []
    for i in range(count):
        ident = f"{label}-{i}"
        if kind == "hash":
            body = {
                "created_at": "2026-12-06T10:00:00Z",
                "error": "",
                "id": f"pay_{ident}",
                "reference": f"ORDER-{i}",
                "sandbox": "true",
                "status": "completed",
                "metadata": {"merchant_uid": "m-1"},
            }
            body["signature"] = notification_digest(body, SECRET)
        else:
            claims = {
                "reference": f"ORDER-{i}",
                "created": "2026-12-06 10:00:00.000000",
                "transfer_order_item_uid": f"tri_{ident}",
                "amount_cents": 10000,
                "exp": int(time.time()) + 3600,
            }
            body = {"signature": jwt.encode(claims, SECRET, algorithm="HS256")}
        out.append(json.dumps(body))
    return out


def run_wrk(port: int, route: str, bodies_file: Path, script: Path, seconds: float) -> dict:
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        route,
        str(bodies_file),
        str(WRK_THREADS),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def log_size() -> tuple[int, int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size('django_apiauth_notificationdelivery'),"
            " count(*), count(*) FILTER (WHERE outcome = 'accepted')"
            " FROM django_apiauth_notificationdelivery"
        )
        return cursor.fetchone()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reason = missing()
    if reason:
        print(f"skipped: {reason}")
        return 0
    admin_sql(f"CREATE DATABASE {DATABASE}")
    server = None
    try:
        prepare()
        work = Path(tempfile.mkdtemp(prefix="bench_intake_"))
        script = work / "post.lua"
        script.write_text(LUA)
        count = int(RATE_CEILING * args.seconds)
        port = free_port()
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        server = subprocess.Popen(
            [
                gunicorn,
                "--chdir",
                str(HERE),
                "-w",
                "2",
                "-k",
                "gthread",
                "--threads",
                "4",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "_intake_site:application",
            ],
            env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        names = list(ROUTES)
        results: dict[str, list[dict]] = {name: [] for name in names}
        for round_ in range(-1, args.repetitions):  # round -1: warm-up, not counted
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                label = f"{name.replace(' ', '-')}-{round_}"
                kind = name.split()[1]
                path = work / f"{label}.txt"
                path.write_text("\n".join(bodies(kind, label, count)) + "\n")
                seconds = 2 if round_ < 0 else args.seconds
                result = run_wrk(port, ROUTES[name], path, script, seconds)
                if result["requests"] > count:
                    result["duplicates"] = result["requests"] - count
                if round_ >= 0:
                    results[name].append(result)
        size, rows, accepted = log_size()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        admin_sql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")

    summary = {
        name: {k: spread([r[k] for r in rs]) for k in ("rps", "p50", "p99")}
        for name, rs in results.items()
    }
    print(
        f"gunicorn gthread 2x4, wrk -c{CONNECTIONS}, {args.repetitions} interleaved rounds "
        f"of {args.seconds:g} s (min / median / max)"
    )
    for name, figures in summary.items():
        rps, p50, p99 = figures["rps"], figures["p50"], figures["p99"]
        print(
            f"  {name:<12} {rps[0]:7.0f} / {rps[1]:7.0f} / {rps[2]:7.0f} req/s   "
            f"p50 {p50[1]:5.1f} ms   p99 {p99[0]:5.1f} / {p99[1]:5.1f} / {p99[2]:5.1f} ms"
        )
    for one, other in PAIRS:
        ones, others = results[one], results[other]
        rps = spread([a["rps"] / b["rps"] for a, b in zip(ones, others, strict=True)])
        p99 = spread([a["p99"] / b["p99"] for a, b in zip(ones, others, strict=True)])
        print(
            f"  {one} / {other}: req/s {rps[0]:.2f} / {rps[1]:.2f} / {rps[2]:.2f}"
            f"   p99 {p99[0]:.2f} / {p99[1]:.2f} / {p99[2]:.2f}"
        )
        summary[f"{one} / {other}"] = {"rps": rps, "p99": p99}
    per_row = size / max(rows, 1)
    print(
        f"  delivery log: {size} bytes for {rows} rows ({accepted} accepted): "
        f"{per_row:.0f} bytes per delivery"
    )
    bad = {
        n: [r["non2xx"] + r["errors"] + r.get("duplicates", 0) for r in rs]
        for n, rs in results.items()
        if any(r["non2xx"] or r["errors"] for r in rs)
    }
    if bad:
        print(f"  WARNING: non-2xx answers, socket errors or reused bodies: {bad}")
    if args.json:
        print(json.dumps({"summary": summary, "log_bytes_per_delivery": per_row}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
