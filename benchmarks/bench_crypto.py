"""Encryption at rest: cost per value and key-rotation throughput.

    .venv/bin/python benchmarks/bench_crypto.py            # SQLite in memory
    BENCH_DATABASE=postgres .venv/bin/python benchmarks/bench_crypto.py

Baseline in the same run: a bare ``Fernet`` with a fixed key (no key ring, no
per-column sub-key, no prefix). The ratio is what the ring's features cost.
"""

import time

from _django import setup
from _timing import interleaved_per_call

setup()

from cryptography.fernet import Fernet  # noqa: E402
from django.db import connection  # noqa: E402

from django_apiauth import crypto, rotation  # noqa: E402
from django_apiauth.models import ApiCredential  # noqa: E402

VALUE = "sec_Zq1Xw2Ec3Rv4Tb5Yn6Um7" * 2  # a realistic 50-character API secret
ROWS = 2_000


def main():
    fernet = Fernet(Fernet.generate_key())
    raw = fernet.encrypt(VALUE.encode())
    ring = crypto.get_key_ring()
    context = "django_apiauth.apicredential.api_secret"
    ours = ring.encrypt(VALUE, context)
    # What ApiCredential writes: bound to (row uid, endpoint); the sub-key is cached.
    binding = "5f0c7f2e-3a51-4d8e-9a57-0d7c6d3f8b11|https://back.ecard.pledg.co:443"
    bound = ring.encrypt(VALUE, context, binding)

    operations = {
        "Fernet encrypt (baseline)": lambda: fernet.encrypt(VALUE.encode()),
        "crypto.encrypt (ring, sub-key)": lambda: ring.encrypt(VALUE, context),
        "Fernet decrypt (baseline)": lambda: fernet.decrypt(raw),
        "crypto.decrypt (ring, sub-key)": lambda: ring.decrypt(ours, context),
        "encrypt bound (row + endpoint)": lambda: ring.encrypt(VALUE, context, binding),
        "decrypt bound (row + endpoint)": lambda: ring.decrypt(bound, context, binding),
    }
    timings = interleaved_per_call(list(operations.values()), rounds=4_000, repeat=15)
    rows = list(zip(operations, timings, strict=True))
    print(f"{'operation':34} {'best µs':>9} {'median µs':>10}")
    for name, (best, median) in rows:
        print(f"{name:34} {best * 1e6:9.2f} {median * 1e6:10.2f}")
    print(f"encrypt ratio ours/baseline: {rows[1][1][0] / rows[0][1][0]:.2f}")
    print(f"decrypt ratio ours/baseline: {rows[3][1][0] / rows[2][1][0]:.2f}")
    print(f"bound encrypt ratio ours/baseline: {rows[4][1][0] / rows[0][1][0]:.2f}")

    # A throw-away test database (test_<name> on PostgreSQL), dropped at the end.
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0)
    ApiCredential.objects.bulk_create(
        ApiCredential(
            name=f"m-{i}", api_key=f"key-{i:06d}", api_secret=VALUE, signature_secret=VALUE
        )
        for i in range(ROWS)
    )
    from django.conf import settings

    settings.APIAUTH = {
        "ENCRYPTION_KEYS": [crypto.generate_key(), *settings.APIAUTH["ENCRYPTION_KEYS"]]
    }
    crypto.get_key_ring.cache_clear()
    start = time.perf_counter()
    report = rotation.rotate_keys(batch_size=500)
    elapsed = time.perf_counter() - start
    values = report.rotated
    print(
        f"rotation: {ROWS} rows ({values} values) in {elapsed:.2f} s = "
        f"{ROWS / elapsed:,.0f} rows/s, {values / elapsed:,.0f} values/s "
        f"({connection.vendor})"
    )
    connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
