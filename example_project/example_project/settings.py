"""Settings of the example merchant site, read from the environment with django-environ.

Every variable is optional and documented in ``example_project/.env.example``;
a ``.env`` file next to ``manage.py`` is read when present (real environment
variables win over it). The defaults give an offline development site: SQLite,
the in-process cache, and the sandbox provider on loopback.
"""

from __future__ import annotations

from pathlib import Path

import environ

from .devkey import load_or_create

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="django-insecure-example-project-only-never-deploy")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_apiauth",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# SQLite by default; DATABASE_URL=postgres://user@host:5432/name for PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}

# The in-process cache by default; CACHE_URL=redis://127.0.0.1:6379/1 shares the
# access token between all the site's processes (what a real deployment wants).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://example-project")}

# Encryption keys of the stored credentials: APIAUTH_ENCRYPTION_KEYS (comma-separated,
# newest first) or, for development only, a generated key kept in a git-ignored file.
ENCRYPTION_KEYS = env.list("APIAUTH_ENCRYPTION_KEYS", default=[])
DEV_ENCRYPTION_KEY_FILE: str | None = None
if not ENCRYPTION_KEYS:
    _dev_key_file = Path(env("APIAUTH_DEV_KEY_FILE", default=str(BASE_DIR / ".dev-encryption-key")))
    ENCRYPTION_KEYS = [load_or_create(_dev_key_file)]
    DEV_ENCRYPTION_KEY_FILE = str(_dev_key_file)

#: Where the sandbox provider listens when started by ``demo --serve``.
SANDBOX_URL = env("SANDBOX_URL", default="http://127.0.0.1:8001")

APIAUTH = {
    "ENVIRONMENTS": {
        "sandbox": SANDBOX_URL,
        "staging": "https://staging.back.ecard.pledg.co",
        "production": "https://back.ecard.pledg.co",
    },
    "DEFAULT_ENVIRONMENT": env("APIAUTH_DEFAULT_ENVIRONMENT", default="sandbox"),
    # The bearer-protected GET that connectivity checks call after fetching a token.
    "CHECK_PATH": env("APIAUTH_CHECK_PATH", default="/api/merchant"),
    "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
    # The sandbox speaks plain http:// on loopback; nothing else ever may.
    "ALLOW_INSECURE_LOOPBACK": env.bool("APIAUTH_ALLOW_INSECURE_LOOPBACK", default=True),
}

#: The credential the shop uses (and whose signature secret verifies notifications).
SHOP_CREDENTIAL = env("SHOP_CREDENTIAL", default="shop")

#: The fixed sandbox account of ``demo --serve``, so a person can type it into the admin.
#: Development values only: the plain ``demo`` command uses random ones.
SANDBOX_ACCOUNT = {
    "api_key": env("SANDBOX_API_KEY", default="sandbox_key_0123456789abcdef"),
    "api_secret": env("SANDBOX_API_SECRET", default="sandbox-api-secret-change-me"),
    "dashboard_username": env("SANDBOX_DASHBOARD_USERNAME", default="merchant@example.com"),
    "dashboard_password": env("SANDBOX_DASHBOARD_PASSWORD", default="sandbox-dashboard-password"),
    "signature_secret": env(
        "SANDBOX_SIGNATURE_SECRET", default="sandbox-signature-secret-of-32-bytes!"
    ),
    "merchant_uid": env("SANDBOX_MERCHANT_UID", default="mer_sandbox"),
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"short": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "short"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}
