"""``apiauth_rotate_keys`` throughput against its limit: rows per second, 4 values a row.

    BENCH_DATABASE=postgres .venv/bin/python benchmarks/bench_rotation.py   # the figure
    .venv/bin/python benchmarks/bench_rotation.py                          # SQLite, in memory

Rows of ``ApiCredential`` with all four secrets set are rotated onto a new
primary key by ``rotation.rotate_keys()``, end to end: reading each batch
(``SELECT ... FOR UPDATE``), decrypting and re-encrypting every value for its
row's binding, and writing.

``sub-keys`` times only the derivations a rotation of bound values needs (two
per value: the old key's and the new key's sub-key for that row and column):
when they alone run slower than half the limit, so does any rotation.

The *limit* is what no rotation can beat: Fernet decrypt + encrypt of as many
values (one ``Fernet`` per column, no key derivation) and, on PostgreSQL, one
``UPDATE ... FROM unnest(...)`` writing them all to a copy of the table, the
arrays sent as binary parameters (``limit``) or as text ones (``limit, text``:
how issue 22 measured its 23,000 rows/s, each array element quoted as text by
psycopg). They take turns, ``REPEAT`` times: the ratios are taken in one run.
On PostgreSQL a throw-away database is created and dropped.
The figure of issue 22: rotation >= 0.5x the limit on PostgreSQL.
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
REPEAT = 5  # the limit and the rotation take turns; ratios are taken pair by pair
FIELDS = ["api_key", "api_secret", "dashboard_password", "signature_secret"]


class Limit:
    """Fernet decrypt + encrypt of ``ROWS x FIELDS`` values, then one UPDATE of them all."""

    def __init__(self):
        from cryptography.fernet import Fernet

        self.old = [Fernet(Fernet.generate_key()) for _ in FIELDS]
        self.new = [Fernet(Fernet.generate_key()) for _ in FIELDS]
        self.tokens = [
            [f.encrypt(f"{name}-{i:05d}-0123456789abcdef".encode()) for i in range(ROWS)]
            for f, name in zip(self.old, FIELDS, strict=True)
        ]
        self.pks = list(ApiCredential.objects.order_by("pk").values_list("pk", flat=True))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "CREATE TABLE bench_limit AS SELECT id, api_key, api_secret, "
                    "dashboard_password, signature_secret FROM django_apiauth_apicredential"
                )

    def run(self, mark: str = "%b") -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        columns = [
            [new.encrypt_at_time(old.decrypt(t), 0).decode() for t in tokens]
            for old, new, tokens in zip(self.old, self.new, self.tokens, strict=True)
        ]
        if connection.vendor == "postgresql":
            from django.db import transaction

            from django_apiauth.bulk_write import binding_cursor

            with transaction.atomic(), binding_cursor(connection) as cursor:
                cursor.execute(
                    "UPDATE bench_limit SET api_key = v.a, api_secret = v.b, "
                    "dashboard_password = v.c, signature_secret = v.d FROM unnest("
                    f"{mark}::bigint[], {mark}::text[], {mark}::text[], {mark}::text[], "
                    f"{mark}::text[]) AS v (id, a, b, c, d) WHERE bench_limit.id = v.id",
                    [self.pks, *columns],
                )
        return time.perf_counter() - start, time.process_time() - cpu


def subkeys_alone(bindings: list[str]) -> tuple[float, float]:
    """Only the sub-keys a rotation derives: 2 per value (the old key's, the new one's),
    each unique to its row, column and key (bound values), so no cache can serve them."""
    ring = crypto.get_key_ring()
    old, new = ring.keys[1].key_id, ring.primary.key_id
    contexts = [ApiCredential._meta.get_field(name).context for name in FIELDS]
    start, cpu = time.perf_counter(), time.process_time()
    for binding in bindings:
        for context in contexts:
            ring.fernet(old, context, binding)
            ring.fernet(new, context, binding)
    return time.perf_counter() - start, time.process_time() - cpu


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
        limit = Limit()
        bindings = [row.secret_binding() for row in ApiCredential.objects.all()]
        runs = {"limit": [], "limit, text": [], "rotate_keys": [], "sub-keys": []}
        for _ in range(REPEAT):
            runs["limit"].append(limit.run())
            runs["limit, text"].append(limit.run("%s"))
            runs["rotate_keys"].append(rotate_once())
            runs["sub-keys"].append(subkeys_alone(bindings))
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
            f"  {name:<12} best {ROWS / min(walls):6,.0f} rows/s, median "
            f"{ROWS / statistics.median(walls):6,.0f} rows/s (CPU of this process "
            f"{ROWS / cpu:6,.0f} rows/s)"
        )
    for name, limit_name in (
        ("rotate_keys", "limit"),
        ("rotate_keys", "limit, text"),
        ("sub-keys", "limit"),
    ):
        ratios = [
            lim / rot for (lim, _), (rot, _) in zip(runs[limit_name], runs[name], strict=True)
        ]
        print(
            f"  {name} / {limit_name} (speed, pair by pair): min {min(ratios):.2f}x, "
            f"median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x"
        )
    print("  target: >= 0.5x the limit on PostgreSQL")


if __name__ == "__main__":
    main()
