"""Notification verification: cost per call of each scheme, and of a whole delivery.

    .venv/bin/python benchmarks/bench_notifications.py

Baselines in the same run: PyJWT's own ``jwt.decode`` (HS256, same token and
secret) for the JWT scheme; one bare ``hashlib.sha256`` of the same message for
the hash scheme. The ratios are what the plugin-compatible rules cost.
"""

import hashlib
import json

from _django import setup
from _timing import best_per_call

setup(ROOT_URLCONF="django_apiauth.urls", ALLOWED_HOSTS=["*"])

import jwt  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from django_apiauth.models import ApiCredential  # noqa: E402
from django_apiauth.notifications.verify import check_hash, check_jwt  # noqa: E402
from django_apiauth.signing import notification_digest  # noqa: E402

SECRET = "sig-secret-0123456789-abcdefghijklmnop"


def show(label, timing, baseline=None):
    best, median = timing
    ratio = f"  x{best / baseline[0]:.2f}" if baseline else ""
    print(f"  {label:<46} {best * 1e6:8.2f} µs (median {median * 1e6:.2f}){ratio}")


def main():
    fields = {
        "created_at": "2024-05-01T10:00:00Z",
        "error": None,
        "id": "pay_0123456789",
        "reference": "order-42",
        "sandbox": True,
        "status": "completed",
    }
    body = {**fields, "signature": notification_digest(fields, SECRET, php_booleans=True)}
    message = SECRET.join(f"{k}={'' if v is None else v}" for k, v in fields.items())
    token = jwt.encode(
        {"reference": "order-42", "transfer_order_item_uid": "tri_1", "amount_cents": 10000},
        SECRET,
        algorithm="HS256",
    )

    print("JWT scheme (transfer notifications)")
    baseline = best_per_call(lambda: jwt.decode(token, SECRET, algorithms=["HS256"]))
    show("PyJWT jwt.decode (baseline)", baseline)
    show(
        "check_jwt",
        best_per_call(lambda: check_jwt(token, SECRET)),
        baseline,
    )

    print("hash scheme (payment notifications), PHP-style booleans (second spelling tried)")
    baseline = best_per_call(lambda: hashlib.sha256(message.encode()).hexdigest())
    show("one hashlib.sha256 (baseline)", baseline)
    show(
        "check_hash",
        best_per_call(lambda: check_hash(body, SECRET)),
        baseline,
    )

    print("whole delivery through the ready-made route (SQLite in memory, log + claim)")
    call_command("migrate", verbosity=0)
    ApiCredential.objects.create(
        name="shop",
        base_url="https://provider.example",
        api_key="k",
        api_secret="s",
        signature_secret=SECRET,
    )
    client = Client()
    counter = iter(range(10**9))

    def deliver():
        one = {**fields, "id": f"pay_{next(counter)}"}
        one["signature"] = notification_digest(one, SECRET)
        client.post(
            "/notifications/shop/payment/", json.dumps(one), content_type="application/json"
        )

    show("POST payment (verify, log, claim, signal)", best_per_call(deliver, rounds=300, repeat=3))


if __name__ == "__main__":
    main()
