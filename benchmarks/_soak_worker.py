"""One process of the site under ``soak_faults.py``: notifications in, token traffic out.

    python benchmarks/_soak_worker.py PORT

Configured from the environment the soak passes (``SOAK_DATABASE``,
``SOAK_REDIS``, ``SOAK_PROVIDER``, ``SOAK_LOG``, ``SOAK_SLOW_SHARE``,
``SOAK_CALLERS``). It serves ``path("provider/", include("django_apiauth.urls"))``
with Django's ``ThreadedWSGIServer``; its receiver adds one row per hand-over to
``soak_effects`` (no unique constraint: a notification committed twice shows
as two rows) and is sometimes slower than ``NOTIFICATION_CLAIM_TIMEOUT``.
Meanwhile ``SOAK_CALLERS`` threads call the provider's ``/api/merchant``
through one ``ApiClient`` and append one line per call to ``SOAK_LOG``:
``time status replays error``.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time

from _django import postgres, setup

CLAIM_TIMEOUT = 1.0

setup(
    ROOT_URLCONF="notify_urls",
    ALLOWED_HOSTS=["127.0.0.1"],
    DATABASES={"default": postgres(os.environ["SOAK_DATABASE"])},
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["SOAK_REDIS"],
            "KEY_PREFIX": "apiauth-soak",
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        }
    },
    APIAUTH={
        "ENCRYPTION_KEYS": ["ZmRjN2Y0YzE2ZDVkNDk4OThhNGFhYzBkYjQ3ZDc1Mjc="],
        "ALLOW_INSECURE_LOOPBACK": True,
        "NOTIFICATION_CLAIM_TIMEOUT": CLAIM_TIMEOUT,
    },
)

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.db import connection  # noqa: E402

from django_apiauth.signals import notification_received  # noqa: E402

SLOW_SHARE = float(os.environ.get("SOAK_SLOW_SHARE", "0.05"))


def record(sender, *, data, **kwargs):
    """The site's code: one row per hand-over, in the transaction that accepts it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO soak_effects (identity, pid) VALUES (%s, %s)", [data["id"], os.getpid()]
        )
    # Mostly quick; sometimes slower than the claim timeout (an ERP call), so the
    # provider's retry arrives while it runs and a SIGKILL can land mid-receiver.
    pause = CLAIM_TIMEOUT * 1.5 if random.random() < SLOW_SHARE else random.uniform(0, 0.02)
    time.sleep(pause)


def token_traffic(log_path: str) -> None:
    from django_apiauth.client import get_client

    client = get_client("soak")
    with open(log_path, "a", buffering=1) as log:
        while True:
            started = time.time()
            try:
                response = client.get("/api/merchant", timeout=10)
                line = f"{started:.3f} {response.status_code} {len(response.history)} -"
            except Exception as err:  # counted by the checker as a caller error
                line = f"{started:.3f} 0 0 {type(err).__name__}"
            finally:
                connection.close()
            log.write(line + "\n")
            time.sleep(random.uniform(0.01, 0.1))


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def main() -> None:
    port = int(sys.argv[1])
    notification_received.connect(record, dispatch_uid="soak-record")
    for _ in range(int(os.environ.get("SOAK_CALLERS", "2"))):
        threading.Thread(target=token_traffic, args=(os.environ["SOAK_LOG"],), daemon=True).start()
    server = ThreadedWSGIServer(("127.0.0.1", port), QuietHandler, allow_reuse_address=True)
    server.set_app(WSGIHandler())
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
