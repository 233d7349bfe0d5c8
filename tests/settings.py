"""Settings for the test suite.

``APIAUTH_TEST_DATABASE=postgres`` runs the suite on the PostgreSQL service
(127.0.0.1:5432, user postgres, trust auth) instead of SQLite.
"""

import os

SECRET_KEY = "tests-only-secret-key-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",  # the live server serves the admin's CSS to the browser test
    "django_apiauth",
    "tests.storage.encmodels",  # models of a user's own with encrypted fields (rotation tests)
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
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
]

if os.environ.get("APIAUTH_TEST_DATABASE") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("APIAUTH_TEST_PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("APIAUTH_TEST_PGPORT", "5432"),
            "USER": os.environ.get("APIAUTH_TEST_PGUSER", "postgres"),
            "NAME": "test",
            # One test database per run, so concurrent runs never drop each other's.
            "TEST": {"NAME": f"test_apiauth_{os.getpid()}"},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}
}

# Fixed test keys (generated with apiauth_generate_key); never reuse them.
APIAUTH = {
    "ENCRYPTION_KEYS": [
        "ZmRjN2Y0YzE2ZDVkNDk4OThhNGFhYzBkYjQ3ZDc1Mjc=",
    ],
}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"
