"""The site ``bench_intake.py`` serves with gunicorn: the app's intake and bare views side by side.

    gunicorn --chdir benchmarks _intake_site:application   (database: $BENCH_INTAKE_DATABASE)

* ``provider/notifications/bench/payment/`` and ``.../transfer/``: the
  ready-made routes of ``include("django_apiauth.urls")``, with a receiver of
  ``notification_received`` doing one INSERT;
* ``bare/payment/`` and ``bare/transfer/``: plain views that parse the same
  JSON, check the same signature (``notification_digest`` + ``hmac.compare_digest``;
  PyJWT's ``jwt.decode``) against a secret they hold, and do the same INSERT;
* ``floor/payment/``: the bare payment view plus the intake's transaction in raw
  SQL (one statement takes the advisory lock and inserts the log row — body in
  clear — into a copy of the log table; then the INSERT): the design without the ORM;
* ``bare-atomic/payment/``: the bare payment view with its INSERT in
  ``transaction.atomic()``: the BEGIN and COMMIT round trips any design pays that
  commits the receiver's writes together with the log row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from _django import postgres, setup

SECRET = "bench-signature-secret-0123456789abcdef"
CREDENTIAL = "bench"

setup(
    ROOT_URLCONF="_intake_site",
    ALLOWED_HOSTS=["*"],
    DATABASES={
        "default": postgres(
            os.environ.get("BENCH_INTAKE_DATABASE", "postgres"),
            CONN_MAX_AGE=600,  # one connection per worker thread, for both sides
        )
    },
)

import jwt  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import include, path  # noqa: E402

from django_apiauth.signals import notification_received  # noqa: E402
from django_apiauth.signing import notification_digest  # noqa: E402


def insert(identity: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_receipts (identity) VALUES (%s)", [identity])


def receiver(sender, *, scheme, data, **kwargs):
    insert(data["id"] if scheme == "hash" else data["transfer_order_item_uid"])


notification_received.connect(receiver, dispatch_uid="bench-intake")


def verified_payment(raw: bytes) -> dict | None:
    """The payment's body if its signature checks out: what every bare view does first."""
    body = json.loads(raw)
    signature = body.get("signature")
    valid = isinstance(signature, str) and hmac.compare_digest(
        notification_digest(body, SECRET), signature
    )
    return body if valid else None


def refused() -> HttpResponse:
    return HttpResponse("invalid notification signature", status=403)


def bare_payment(request):
    if (body := verified_payment(request.body)) is None:
        return refused()
    insert(body["id"])
    return HttpResponse("notification accepted")


def floor_payment(request):
    raw = request.body
    if (body := verified_payment(raw)) is None:
        return refused()
    identity = f"id:{body['id']}"
    key = hashlib.sha256(json.dumps([CREDENTIAL, "hash", identity]).encode()).hexdigest()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "WITH lock AS (SELECT pg_try_advisory_xact_lock(%s) AS held), claimed AS ("
            "INSERT INTO bench_floor_log (received_at, credential, scheme,"
            " outcome, reason, remote_addr, notification_id, reference, handler, claim, body,"
            " body_size, body_sha256, error, finished_at) SELECT now(), %s, 'hash', 'accepted',"
            " '', %s::inet, %s, %s, 'signals', %s, %s, %s, '', '', now() FROM lock WHERE held"
            " ON CONFLICT (claim) DO NOTHING RETURNING id)"
            " SELECT held, (SELECT id FROM claimed) FROM lock",
            [int(key[:16], 16) - 2**63, CREDENTIAL, request.META.get("REMOTE_ADDR"), body["id"],
             body["reference"], key, raw.decode(), len(raw)],
        )  # fmt: skip
        held, pk = cursor.fetchone()
        if not held or pk is None:
            return HttpResponse("notification already processed")
        insert(body["id"])
    return HttpResponse("notification accepted")


def bare_atomic_payment(request):
    """The bare view with its INSERT in a transaction: what any one-commit design pays."""
    if (body := verified_payment(request.body)) is None:
        return refused()
    with transaction.atomic():
        insert(body["id"])
    return HttpResponse("notification accepted")


def bare_transfer(request):
    body = json.loads(request.body)
    try:
        claims = jwt.decode(body["signature"], SECRET, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return refused()
    insert(claims["transfer_order_item_uid"])
    return HttpResponse("notification accepted")


urlpatterns = [
    path("provider/", include("django_apiauth.urls")),
    path("bare/payment/", bare_payment),
    path("bare/transfer/", bare_transfer),
    path("floor/payment/", floor_payment),
    path("bare-atomic/payment/", bare_atomic_payment),
]

application = get_wsgi_application()
