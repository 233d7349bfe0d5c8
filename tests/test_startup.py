"""Start-up pays for start-up: what a first call would import is imported at start-up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_apiauth"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    CACHES={"default": {"BACKEND": sys.argv[1], "LOCATION": sys.argv[2]}},
    SECRET_KEY="startup-test",
)
django.setup()
print(json.dumps({name: name in sys.modules for name in ("requests", "urllib3", "redis")}))
"""


def imported_at_start_up(backend: str, location: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, backend, location],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


@pytest.mark.slow
def test_the_cache_library_and_the_http_stack_are_imported_when_the_app_is_ready():
    # Nothing connects: a Redis cache's client library is imported, never used.
    imported = imported_at_start_up(
        "django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:9/0"
    )
    assert imported == {"requests": True, "urllib3": True, "redis": True}


@pytest.mark.slow
def test_a_library_the_site_does_not_use_is_not_imported():
    imported = imported_at_start_up("django.core.cache.backends.locmem.LocMemCache", "startup")
    assert imported == {"requests": True, "urllib3": True, "redis": False}
