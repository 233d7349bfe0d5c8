"""The ``APIAUTH`` settings dict, with every default in one place.

Values are read at call time (never copied into module constants) so that
``override_settings`` and per-process configuration just work.
"""

from __future__ import annotations

from typing import Any

import environ
from django.conf import settings as django_settings

SETTING_NAME = "APIAUTH"

DEFAULTS: dict[str, Any] = {
    "ENVIRONMENTS": {
        "staging": "https://staging.back.ecard.pledg.co",
        "production": "https://back.ecard.pledg.co",
    },
    "DEFAULT_ENVIRONMENT": "staging",
    "TOKEN_PATH": "/api/token",
    "CHECK_PATH": None,
    "CACHE_ALIAS": "default",
    "ENCRYPTION_KEYS": [],
    "REFRESH_MARGIN": 60,
    "EXPIRY_LEEWAY": 10,
    "LOCK_TIMEOUT": 10,
    "TIMEOUT": (3.05, 10),
    "MAX_RETRIES": 2,
    "VERIFY": True,
    "ALLOW_INSECURE_LOOPBACK": False,
    # None: the hosts of ENVIRONMENTS (see endpoints.allowed_hosts).
    "ALLOWED_HOSTS": None,
}

#: Environment variable read (with django-environ) when ``ENCRYPTION_KEYS`` is empty.
ENCRYPTION_KEYS_ENV = "APIAUTH_ENCRYPTION_KEYS"


class ApiAuthSettings:
    """Attribute access to ``settings.APIAUTH`` with defaults, evaluated on every access."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"{SETTING_NAME} has no setting {name!r}")
        user = getattr(django_settings, SETTING_NAME, None) or {}
        if name == "ENCRYPTION_KEYS":
            return self._encryption_keys(user.get(name))
        return user.get(name, DEFAULTS[name])

    @staticmethod
    def _encryption_keys(configured: Any) -> list[str]:
        if isinstance(configured, str):
            # A single comma-separated string is what people paste from an env file.
            configured = [part for part in configured.split(",")]
        if configured:
            return [str(key).strip() for key in configured if str(key).strip()]
        return [k.strip() for k in environ.Env().list(ENCRYPTION_KEYS_ENV, default=[]) if k.strip()]

    def unknown_keys(self) -> list[str]:
        """Keys in ``settings.APIAUTH`` that this app does not know (usually typos)."""
        user = getattr(django_settings, SETTING_NAME, None) or {}
        return sorted(set(user) - set(DEFAULTS))


api_settings = ApiAuthSettings()
