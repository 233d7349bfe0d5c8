"""Start-up pays for start-up: what a first call would import is imported at start-up."""

from __future__ import annotations

import contextlib
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
    DATABASES={"default": json.loads(sys.argv[3])},
    CACHES={"default": {"BACKEND": sys.argv[1], "LOCATION": sys.argv[2]}},
    SECRET_KEY="startup-test",
)
django.setup()
found = {name: name in sys.modules for name in ("requests", "urllib3", "redis")}
from django.db import connection
from django_apiauth.models import ApiCredential
# Set by compiling a lookup on the model's fields (Django's own cache of them).
found["compiled"] = "_forward_fields_map" in ApiCredential._meta.__dict__
found["connected"] = connection.connection is not None
print(json.dumps(found))
"""

SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}


def imported_at_start_up(backend: str, location: str, database: dict = SQLITE) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, backend, location, json.dumps(database)],
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
    assert imported.items() >= {"requests": True, "urllib3": True, "redis": True}.items()


@pytest.mark.slow
def test_a_library_the_site_does_not_use_is_not_imported():
    imported = imported_at_start_up("django.core.cache.backends.locmem.LocMemCache", "startup")
    assert imported.items() >= {"requests": True, "urllib3": True, "redis": False}.items()


@pytest.mark.slow
def test_the_sql_of_a_first_get_client_is_compiled_at_start_up_without_connecting():
    from django.db import connection

    database = {
        key: connection.settings_dict[key] for key in ("ENGINE", "NAME", "HOST", "PORT", "USER")
    }
    if connection.vendor == "sqlite":
        database["NAME"] = ":memory:"
    imported = imported_at_start_up("django.core.cache.backends.locmem.LocMemCache", "s", database)
    assert (imported["compiled"], imported["connected"]) == (True, False)


def test_queries_a_database_cannot_compile_are_left_to_the_first_call(settings):
    from django.db import connections

    from django_apiauth.credential_cache import compile_queries

    settings.DATABASE_ROUTERS = ["tests.test_startup.DummyReads"]
    connections.settings["dummy"] = {"ENGINE": "django.db.backends.dummy"}
    try:
        assert compile_queries() is False
    finally:
        del connections.settings["dummy"]
        with contextlib.suppress(AttributeError):
            del connections["dummy"]  # the handler's per-thread connection object


@pytest.mark.postgres  # an in-memory SQLite database is never closed
@pytest.mark.django_db(transaction=True)
def test_a_connection_opened_to_compile_is_closed_again(monkeypatch):
    """No connection is left for forked workers to share (gunicorn --preload)."""
    from django.db import connection
    from django.db.models.sql.compiler import SQLCompiler

    from django_apiauth.credential_cache import compile_queries

    original = SQLCompiler.as_sql

    def connecting(self, *args, **kwargs):  # a backend that asks the server while compiling
        self.connection.ensure_connection()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", connecting)
    connection.close()
    assert compile_queries() is True
    assert connection.connection is None


class DummyReads:
    def db_for_read(self, model, **hints):
        return "dummy"
