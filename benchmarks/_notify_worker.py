"""One process of the site served by ``bench_notification_delivery.py``.

    python benchmarks/_notify_worker.py PORT

Django is set up from the environment the benchmark passes
(``BENCH_NOTIFY_DATABASE``, ``BENCH_NOTIFY_REDIS``, ``BENCH_RECEIVER_MS``) and
served by Django's own ``ThreadedWSGIServer`` (a thread per request) on
``127.0.0.1:PORT``. A receiver of ``notification_received`` adds one row per
hand-over to ``bench_receipts``, which has no unique constraint: a notification
handed over twice shows as two rows.
"""

from __future__ import annotations

import os
import sys
import time

from _django import postgres, setup

setup(
    ROOT_URLCONF="notify_urls",
    ALLOWED_HOSTS=["127.0.0.1"],
    DATABASES={"default": postgres(os.environ["BENCH_NOTIFY_DATABASE"])},
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["BENCH_NOTIFY_REDIS"],
        }
    },
)

from django.core.cache import cache  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.db import connection  # noqa: E402

from django_apiauth.signals import notification_received  # noqa: E402

RECEIVER_SECONDS = float(os.environ.get("BENCH_RECEIVER_MS", "0")) / 1000


def record(sender, *, scheme, data, **kwargs):
    """The site's code: one row per hand-over (in the transaction that accepts it)."""
    identity = data["id"] if scheme == "hash" else data["transfer_order_item_uid"]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_receipts (identity, pid) VALUES (%s, %s)", [identity, os.getpid()]
        )
    # A receiver that takes a moment, so concurrent deliveries of one
    # notification really overlap while the first is being processed.
    time.sleep(RECEIVER_SECONDS)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def main() -> None:
    port = int(sys.argv[1])
    notification_received.connect(record, dispatch_uid="bench-record")
    cache.set(f"bench-worker-{os.getpid()}", port)  # Redis is this site's cache: fail if not
    server = ThreadedWSGIServer(("127.0.0.1", port), QuietHandler, allow_reuse_address=True)
    server.set_app(WSGIHandler())
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
