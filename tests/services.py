"""The real services the suite uses (PostgreSQL, Redis): probes, and the suite's own Redis keys.

``python -m tests.services`` (run by ``make test`` first) says which service is
missing and the one command that starts it. Locally the tests that need a
missing service are skipped, with one summary line per service; with
``APIAUTH_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing service is a failure.

The suite never deletes data it did not write. On Redis (``APIAUTH_TEST_REDIS_URL``,
any database of any server) every test writes under a key prefix of its own,
``apiauth-test-<run>-<n>``, through Django's ``KEY_PREFIX``, and deletes exactly
those keys afterwards (SCAN + DEL of its prefix), never FLUSHDB.
"""

from __future__ import annotations

import functools
import itertools
import os
import secrets
import socket
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "POSTGRES",
    "REDIS",
    "REDIS_URL",
    "Service",
    "delete_own_redis_keys",
    "own_redis_cache",
    "services_required",
]

REDIS_URL = os.environ.get("APIAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
#: Every key this run writes starts with this (then ``-<n>:`` per test).
RUN_PREFIX = f"apiauth-test-{secrets.token_hex(4)}"
_numbers = itertools.count()


def services_required() -> bool:
    return os.environ.get("APIAUTH_REQUIRE_SERVICES") == "1"


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int
    start: str  # the one command that starts it on a Debian machine

    @functools.cached_property
    def missing(self) -> str | None:
        """Why the service cannot be used, with the command that starts it; None when it is up."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return None
        except OSError as err:
            return (
                f"{self.name} is not running on {self.host}:{self.port} ({err.strerror or err}); "
                f"start it with: {self.start}"
            )


POSTGRES = Service(
    "PostgreSQL",
    os.environ.get("APIAUTH_TEST_PGHOST", "127.0.0.1"),
    int(os.environ.get("APIAUTH_TEST_PGPORT", "5432")),
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
)
_redis = urlsplit(REDIS_URL)
REDIS = Service(
    "Redis",
    _redis.hostname or "127.0.0.1",
    _redis.port or 6379,
    f'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port {_redis.port or 6379} --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
)


def own_redis_cache() -> dict:
    """A ``CACHES`` entry on ``APIAUTH_TEST_REDIS_URL`` under a key prefix nobody else uses."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{RUN_PREFIX}-{next(_numbers)}",
    }


def delete_own_redis_keys(prefix: str) -> int:
    """Delete the keys Django wrote under ``prefix`` (``<prefix>:<version>:<key>``); how many."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()


def main(names: list[str]) -> int:
    """Print what is missing; in CI (``APIAUTH_REQUIRE_SERVICES=1``) exit 1 when anything is."""
    chosen = [s for s in (POSTGRES, REDIS) if not names or s.name.lower() in names]
    missing = [s.missing for s in chosen if s.missing]
    for line in missing:
        print(line, file=sys.stderr)
    if missing and services_required():
        print("APIAUTH_REQUIRE_SERVICES=1: the suite needs every service.", file=sys.stderr)
        return 1
    if missing:
        print("The tests that need it are skipped (one summary line each).", file=sys.stderr)
    else:
        print("services: " + ", ".join(f"{s.name} on {s.host}:{s.port}" for s in chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main([name.lower() for name in sys.argv[1:]]))
