"""Minimal Django set-up shared by the benchmark scripts (in-memory SQLite, LocMem cache)."""

import os
import sys

import django
from django.conf import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup(**overrides):
    sys.path.insert(0, ROOT)
    if not settings.configured:
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        if os.environ.get("BENCH_DATABASE") == "postgres":
            database = {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": "127.0.0.1",
                "USER": "postgres",
                "NAME": "test",
            }
        settings.configure(
            SECRET_KEY="benchmark-only",
            USE_TZ=True,
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "django.contrib.auth",
                "django_apiauth",
            ],
            DATABASES={"default": database},
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            APIAUTH={"ENCRYPTION_KEYS": ["ZmRjN2Y0YzE2ZDVkNDk4OThhNGFhYzBkYjQ3ZDc1Mjc="]},
            **overrides,
        )
        django.setup()
