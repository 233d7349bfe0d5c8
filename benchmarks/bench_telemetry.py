"""What the OpenTelemetry instrumentation costs: a bearer call and a notification, three ways.

    .venv/bin/python benchmarks/bench_telemetry.py

Three worker processes, each doing the same work (the global providers of
OpenTelemetry can be set once per process, hence processes):

* ``none`` — ``opentelemetry`` cannot be imported (as without the ``otel`` extra);
* ``api``  — the API installed, no SDK configured (the API's no-op instruments);
* ``sdk``  — the SDK configured: a meter provider with a periodic reader (an
  exporter that drops what it gets) and a tracer provider with a batch processor.

The work: ``ApiClient.get`` with its token in process memory (against the fake
provider, no network, so nothing hides the client's own cost), and a hash-scheme
payment notification through the ready-made route (verify, log, claim, signal;
an SQLite file per worker). Rounds alternate between the workers, in a shuffled order,
and ratios are of medians.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time

MODES = ("none", "api", "sdk")
WORK = {"bearer call": ("bearer", 400), "hash notification": ("notify", 60)}
ROUNDS = 25


def worker(mode: str) -> None:
    if mode == "none":
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]  # import raises
    elif mode == "sdk":
        configure_sdk()
    import atexit
    import os
    import tempfile

    from _django import database, setup

    # A notification's real cost includes durable commits: an SQLite file (or
    # BENCH_DATABASE=postgres), not the in-memory database of the other scripts.
    db = database()
    if db["NAME"] == ":memory:":
        db["NAME"] = tempfile.mkstemp(suffix=".sqlite3")[1]
        atexit.register(os.remove, db["NAME"])
    else:
        db["TEST"] = {"NAME": f"bench_telemetry_{mode}"}
    setup(ROOT_URLCONF="django_apiauth.urls", ALLOWED_HOSTS=["*"], DATABASES={"default": db})
    from django.core.management import call_command
    from django.test import Client

    from django_apiauth.client import get_client
    from django_apiauth.testing.fake import FakeProvider

    call_command("migrate", verbosity=0)
    provider = FakeProvider().start()
    provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
    provider.create_credential("shop", signature_secret=provider.signature_secret)
    client, site = get_client("shop"), Client()
    client.get("/api/orders")

    def notify() -> None:
        response = site.post(
            "/notifications/shop/payment/",
            data=provider.payment_notification(),
            content_type="application/json",
        )
        assert response.status_code == 200

    work = {"bearer": lambda: client.get("/api/orders"), "notify": notify}
    for _ in range(3):  # warm up
        notify()
    for line in sys.stdin:
        name, count = line.split()
        started = time.perf_counter()
        for _ in range(int(count)):
            work[name]()
        print((time.perf_counter() - started) / int(count), flush=True)


def configure_sdk() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Dropping(MetricExporter):
        def export(self, metrics_data, timeout_millis=10_000, **kwargs):
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis=10_000):
            return True

        def shutdown(self, timeout_millis=30_000, **kwargs):
            pass

    class DroppingSpans(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    reader = PeriodicExportingMetricReader(Dropping(), export_interval_millis=1000)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DroppingSpans()))
    trace.set_tracer_provider(tracer_provider)


def main() -> None:
    workers = {
        mode: subprocess.Popen(
            [sys.executable, __file__, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=sys.path[0],
        )
        for mode in MODES
    }
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(ROUNDS):
            for label, (name, count) in WORK.items():
                for mode in random.sample(MODES, len(MODES)):
                    workers[mode].stdin.write(f"{name} {count}\n")
                    workers[mode].stdin.flush()
                    seconds = float(workers[mode].stdout.readline())
                    times.setdefault((label, mode), []).append(seconds)
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait()
    print(f"OpenTelemetry instrumentation: medians of the ratios of {ROUNDS} interleaved rounds")
    for label in WORK:

        def ratio(mode: str, baseline: str, label: str = label) -> float:
            pairs = zip(times[label, mode], times[label, baseline], strict=True)
            return statistics.median(a / b for a, b in pairs)

        extra = statistics.median(times[label, "sdk"]) - statistics.median(times[label, "api"])
        print(
            f"  {label:<18} SDK costs {extra * 1e6:+6.1f} µs per call;"
            f" no otel {statistics.median(times[label, 'none']) * 1e6:7.1f} µs"
            f"   API, no SDK x{ratio('api', 'none'):.3f}"
            f"   SDK x{ratio('sdk', 'api'):.3f} (vs API, no SDK)"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        worker(sys.argv[1])
    else:
        main()
