"""``apiauth_rotate_keys`` throughput: rows per second, 4 encrypted values per row.

    BENCH_DATABASE=postgres .venv/bin/python benchmarks/bench_rotation.py   # the figure
    .venv/bin/python benchmarks/bench_rotation.py                          # SQLite, in memory

Rows of ``ApiCredential`` with all four secrets set are rotated onto a new
primary key, twice in the same run: once writing each batch with Django's
``bulk_update`` (what rotation did before), once with ``bulk_write.update_rows``
(``UPDATE ... FROM (VALUES ...)`` on PostgreSQL, ``executemany`` on SQLite).
Each timing covers ``rotation.rotate_keys()`` end to end: reading each batch
(``SELECT ... FOR UPDATE``), decrypting and re-encrypting every value for its
row's binding, and writing. On PostgreSQL a throw-away database is created
and dropped. The figure of issue 12: >= 2,000 rows/s on PostgreSQL.
"""

import os
import statistics
import time

from _django import setup

setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from django_apiauth import crypto, rotation  # noqa: E402
from django_apiauth.models import ApiCredential  # noqa: E402

ROWS = 2000
BATCH = 500
REPEAT = 3  # the two writers take turns; best and median of each are reported
FIELDS = ["api_key", "api_secret", "dashboard_password", "signature_secret"]


def with_bulk_update(model, fields, rows, *, using, batch_size):
    """What rotation wrote with before: ``bulk_update`` over sealed values."""
    objects = [model(pk=row[0], **dict(zip(fields, row[1:], strict=True))) for row in rows]
    model._base_manager.using(using).bulk_update(objects, fields, batch_size=batch_size)
    return len(rows)


def rotate_once() -> tuple[float, float]:
    """Wall and CPU (this process) seconds of one rotation onto a new primary key."""
    settings.APIAUTH = {
        **settings.APIAUTH,
        "ENCRYPTION_KEYS": [crypto.generate_key(), *settings.APIAUTH["ENCRYPTION_KEYS"]],
    }
    crypto.get_key_ring.cache_clear()
    start, cpu = time.perf_counter(), time.process_time()
    report = rotation.rotate_keys(batch_size=BATCH)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert report.ok and report.rows_updated == ROWS and report.rotated == ROWS * len(FIELDS)
    return elapsed, cpu


def main():
    test_name = f"bench_rotation_{os.getpid()}"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = test_name
    old_name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        connection.creation.create_test_db(verbosity=0)
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    try:
        ApiCredential.objects.bulk_create(
            ApiCredential(
                name=f"m-{i:05d}",
                dashboard_username="ops@example.com",
                **{name: f"{name}-{i:05d}-0123456789abcdef" for name in FIELDS},
            )
            for i in range(ROWS)
        )
        real = rotation.update_rows
        runs = {"bulk_update (before)": [], "update_rows (now)": []}
        for _ in range(REPEAT):
            rotation.update_rows = with_bulk_update
            try:
                runs["bulk_update (before)"].append(rotate_once())
            finally:
                rotation.update_rows = real
            runs["update_rows (now)"].append(rotate_once())
        sample = ApiCredential.objects.order_by("name").first()
        assert sample.api_secret == "api_secret-00000-0123456789abcdef"
    finally:
        if connection.vendor == "postgresql":
            connection.creation.destroy_test_db(old_name, verbosity=0)
    print(f"rotation of {ROWS} rows x {len(FIELDS)} values, batches of {BATCH}, {REPEAT} runs each")
    print(f"database: {connection.vendor}; load average {os.getloadavg()[0]:.1f}")
    for name, values in runs.items():
        walls = [wall for wall, _ in values]
        cpu = statistics.median(c for _, c in values)
        print(
            f"  {name:<21} best {ROWS / min(walls):6,.0f} rows/s, median "
            f"{ROWS / statistics.median(walls):6,.0f} rows/s (CPU of this process "
            f"{ROWS / cpu:6,.0f} rows/s)"
        )
    before = min(wall for wall, _ in runs["bulk_update (before)"])
    now = min(wall for wall, _ in runs["update_rows (now)"])
    print(f"  speed-up (best): {before / now:.2f}x; target >= 2,000 rows/s on PostgreSQL")


if __name__ == "__main__":
    main()
