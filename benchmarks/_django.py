"""The one Django set-up of the benchmark scripts: in-memory SQLite, LocMem, a fixed key.

``setup(**overrides)`` replaces any of the defaults; ``BENCH_DATABASE=postgres``
switches the database to the PostgreSQL service (each script that writes rows
creates, then drops, a throw-away test database there).
"""

import os
import sys

import django
from django.conf import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT]

#: The benchmarks' encryption key (the same fixed key as the test settings).
KEY = "ZmRjN2Y0YzE2ZDVkNDk4OThhNGFhYzBkYjQ3ZDc1Mjc="


def postgres(name: str = "test", **options) -> dict:
    """The PostgreSQL service's database ``name`` (created by the script that uses it)."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "USER": "postgres",
        "NAME": name,
        **options,
    }


def delete_redis_keys(location: str, prefix: str) -> int:
    """Delete what a benchmark wrote to a shared Redis under its own random ``KEY_PREFIX``
    (``prefix*``: Django writes ``<prefix>:<version>:<key>``); how many keys.

    Never FLUSHDB: the database may hold someone's data (the test suite does the same
    in ``tests/services.py``, which benchmarks do not import).
    """
    import redis

    client = redis.Redis.from_url(location)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()


def database() -> dict:
    if os.environ.get("BENCH_DATABASE") == "postgres":
        return postgres()
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}


def setup(**overrides) -> None:
    if settings.configured:
        return
    options = {
        "SECRET_KEY": "benchmark-only",
        "USE_TZ": True,
        "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth", "django_apiauth"],
        "DATABASES": {"default": database()},
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        "APIAUTH": {"ENCRYPTION_KEYS": [KEY]},
    }
    options.update(overrides)
    settings.configure(**options)
    django.setup()


#: What the admin needs (apps, middleware, templates); URLs come from ``admin_urls``.
ADMIN_SETTINGS = {
    "INSTALLED_APPS": [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django_apiauth",
    ],
    "MIDDLEWARE": [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    "ROOT_URLCONF": "admin_urls",
    "ALLOWED_HOSTS": ["*"],
    "TEMPLATES": [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ],
}


def admin_settings(**overrides) -> dict:
    """Settings for benchmarks that drive the admin (no import from the test suite)."""
    return {**ADMIN_SETTINGS, **overrides}
