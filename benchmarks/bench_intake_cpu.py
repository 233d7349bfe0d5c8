"""CPU of one delivery in this process: the intake, the floor and the bare views, no server.

    .venv/bin/python benchmarks/bench_intake_cpu.py [--deliveries 1000] [--rounds 3]

The routes of ``bench_intake.py`` (``_intake_site``), called through the WSGI
application in a loop, one delivery at a time, every body new: wall time and
this process's CPU time (``time.process_time``) per delivery, the routes taking
turns round by round. What ``wrk`` cannot separate: the Python work per
delivery, where the intake's own code shows (PostgreSQL's CPU is not counted).
A database ``bench_intake_<pid>`` is created on the PostgreSQL service and
dropped at the end. Exit 0 with a message when PostgreSQL is missing.
"""

from __future__ import annotations

import argparse
import io
import socket
import statistics
import sys
import time

import bench_intake


def environ(path: str, body: str) -> dict:
    data = body.encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(data)),
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(data),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def deliver(application, name: str, label: str, count: int) -> tuple[float, float]:
    """Microseconds of wall and CPU time per delivery of ``count`` new notifications."""
    bodies = bench_intake.bodies(name.split()[1], label, count)
    path = bench_intake.ROUTES[name]
    statuses: list[str] = []
    wall, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        application(environ(path, body), lambda status, headers: statuses.append(status))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    refused = [status for status in statuses if not status.startswith("200")]
    if refused:
        raise SystemExit(f"{name}: {len(refused)} deliveries not answered 200 ({refused[0]})")
    return wall / count * 1e6, cpu / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        print("skipped: PostgreSQL is not reachable on 127.0.0.1:5432")
        return 0
    bench_intake.admin_sql(f"CREATE DATABASE {bench_intake.DATABASE}")
    try:
        bench_intake.prepare()
        import _intake_site

        application = _intake_site.application
        names = list(bench_intake.ROUTES)
        for name in names:  # warm-up: imports, connections, caches
            deliver(application, name, f"warm-{name.replace(' ', '-')}", 100)
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                label = f"{name.replace(' ', '-')}-{round_}"
                figures[name].append(deliver(application, name, label, args.deliveries))
    finally:
        from django.db import connections

        connections.close_all()
        bench_intake.admin_sql(f"DROP DATABASE IF EXISTS {bench_intake.DATABASE} WITH (FORCE)")
    print(f"{args.rounds} rounds of {args.deliveries} deliveries per route, one at a time")
    print("  route         wall µs (median)   CPU µs of this process: min / median / max")
    for name, values in figures.items():
        cpus = sorted(cpu for _, cpu in values)
        wall = statistics.median(w for w, _ in values)
        print(
            f"  {name:<12} {wall:9.0f}          "
            f"{cpus[0]:7.0f} / {statistics.median(cpus):7.0f} / {cpus[-1]:7.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
