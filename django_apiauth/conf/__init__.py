"""The ``APIAUTH`` settings: one :class:`Setting` per key (default, validator, check id, hint).

Values are read at call time, so ``override_settings`` just works. Each validator runs
in the system checks (``checks.py``) and where the value is used
(:meth:`ApiAuthSettings.validated`); see "Settings" in ``docs/architecture.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import environ
from django.conf import settings as django_settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from django_apiauth.addresses import check_url_is_secure
from django_apiauth.conf import validators
from django_apiauth.conf.validators import (
    SETTING_NAME,
    InvalidSetting,
    refused,
    seconds,
    shown,
    validate_verify,
)
from django_apiauth.exceptions import ConfigurationError, InsecureTransportError
from django_apiauth.messages import refusal, translated

__all__ = [
    "DEFAULTS",
    "SETTINGS",
    "SETTING_NAME",
    "InvalidSetting",
    "api_settings",
    "shown",
    "validate_verify",
]


#: Environment variable read (with django-environ) when ``ENCRYPTION_KEYS`` is empty.
ENCRYPTION_KEYS_ENV = "APIAUTH_ENCRYPTION_KEYS"


# --- validators reading other settings ---------------------------------------


def validate_environments(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise refused(
            gettext_noop("must be a dict of environment name -> base URL, got %(value)s"), value
        )
    for name, url in value.items():
        if not isinstance(name, str) or not isinstance(url, str):
            template = gettext_noop("must map names to URL strings; %(name)s is not")
            raise refusal(InvalidSetting, template, name=shown(name))
        try:
            # The same HTTPS policy as every request.
            check_url_is_secure(url, allow_loopback=api_settings.ALLOW_INSECURE_LOOPBACK)
        except InsecureTransportError as err:
            template = gettext_noop("[%(name)r] is refused: %(error)s")
            raise refusal(InvalidSetting, template, name=name, error=err) from None
    return value


def validate_default_environment(value: Any) -> str:
    environments = api_settings.ENVIRONMENTS
    if not isinstance(environments, Mapping):
        return value  # nothing to compare with: ENVIRONMENTS itself is reported
    known = sorted(environments)
    if isinstance(value, str) and value in known:
        return value
    if not known:
        template = gettext_noop(
            "is %(value)s, which is not in APIAUTH['ENVIRONMENTS'] (none defined)"
        )
        raise refused(template, value)
    template = gettext_noop("is %(value)s, which is not in APIAUTH['ENVIRONMENTS'] (%(known)s)")
    raise refusal(InvalidSetting, template, value=shown(value), known=", ".join(map(str, known)))


# --- the table ----------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One ``APIAUTH`` key: its default, how it is validated and reported."""

    name: str
    default: Any
    #: Returns the value to use or raises ``InvalidSetting``; ``None`` when the
    #: value is checked elsewhere (``ENCRYPTION_KEYS``: by the key ring, E001).
    validate: Callable[[Any], Any] | None
    #: The system check id reporting a bad value (``django_apiauth.E0xx``).
    check_id: str
    hint: str  # lazily translated: shown by the system checks
    #: The check tag it is reported under (``security`` or ``caches``).
    tag: str = "security"


#: The hint each system check shows under a bad value (lazily translated).
_HINTS = {
    "ENVIRONMENTS": _(
        "Map each environment name to an https:// base URL (http:// only to a loopback "
        "host with ALLOW_INSECURE_LOOPBACK)."
    ),
    "DEFAULT_ENVIRONMENT": _("Name one of the keys of APIAUTH['ENVIRONMENTS']."),
    "TOKEN_PATH": _("Remove it to use '/api/token', or give the token endpoint's path."),
    "CHECK_PATH": _("Set a bearer-protected GET path such as '/api/merchant', or None."),
    "CACHE_ALIAS": _("Add the alias to CACHES or point APIAUTH['CACHE_ALIAS'] at an existing one."),
    "ENCRYPTION_KEYS": _("Generate a key with `manage.py apiauth_generate_key`."),
    "REFRESH_MARGIN": _(
        "Seconds before a token goes out of use when its background refresh starts at "
        "the latest, e.g. 60 (more when fetching is slow)."
    ),
    "EXPIRY_LEEWAY": _("Seconds before expiry when a token is no longer used, e.g. 10."),
    "LOCK_TIMEOUT": _(
        "Seconds the fleet-wide fetch lease lasts without renewal (a dead holder's "
        "lease frees after this), e.g. 10."
    ),
    "CACHE_TIMEOUT": _(
        "Use the seconds a call may wait for the token cache before going on without "
        "it, such as 0.25."
    ),
    "TIMEOUT": _(
        "Use seconds such as 10 or a (connect, read) pair such as (3.05, 10); "
        "there is no 'no timeout'."
    ),
    "MAX_RETRIES": _("Use a whole number such as 2 (0 disables retries)."),
    "VERIFY": _("Remove it, or set it to the path of an existing CA bundle."),
    "ALLOW_INSECURE_LOOPBACK": _("Use True (local sandboxes and tests only) or False."),
    "ALLOWED_HOSTS": _(
        "Use None (the hosts of ENVIRONMENTS) or a list of 'host', '.domain' or "
        "'host:port' entries."
    ),
    "NOTIFICATION_LEEWAY": _(
        "Use the clock skew, in seconds, tolerated on a JWT notification's exp/nbf/iat "
        "(60 is php-jwt's advice)."
    ),
    "NOTIFICATION_RETENTION_DAYS": _(
        "Use a whole number of days (1 or more) the delivery log keeps its rows."
    ),
    "NOTIFICATION_CLAIM_TIMEOUT": _(
        "Use the seconds after which a delivery left processing by a dead worker "
        "may be taken over, such as 300."
    ),
}

_ENVIRONMENTS = {
    "staging": "https://staging.back.ecard.pledg.co",
    "production": "https://back.ecard.pledg.co",
}

SETTINGS: dict[str, Setting] = {
    name: Setting(name, default, validate, f"django_apiauth.{check}", _HINTS[name], *tag)
    for name, default, validate, check, *tag in (
        ("ENVIRONMENTS", _ENVIRONMENTS, validate_environments, "E012"),
        ("DEFAULT_ENVIRONMENT", "staging", validate_default_environment, "E013"),
        ("TOKEN_PATH", "/api/token", validators.validate_token_path, "E011"),
        ("CHECK_PATH", None, validators.validate_check_path, "E010"),
        ("CACHE_ALIAS", "default", validators.validate_cache_alias, "E003", "caches"),
        ("ENCRYPTION_KEYS", [], None, "E001"),
        ("REFRESH_MARGIN", 60, seconds(positive=False), "E007"),
        ("EXPIRY_LEEWAY", 10, seconds(positive=False), "E008"),
        ("LOCK_TIMEOUT", 10, seconds(positive=True), "E009"),
        ("CACHE_TIMEOUT", 0.25, seconds(positive=True), "E021", "caches"),
        ("TIMEOUT", (3.05, 10), validators.validate_timeout, "E005"),
        ("MAX_RETRIES", 2, validators.validate_max_retries, "E006"),
        ("VERIFY", True, validate_verify, "E004"),
        ("ALLOW_INSECURE_LOOPBACK", False, validators.validate_flag, "E014"),
        ("ALLOWED_HOSTS", None, validators.validate_allowed_hosts, "E020"),
        ("NOTIFICATION_LEEWAY", 60, seconds(positive=False), "E017"),
        ("NOTIFICATION_RETENTION_DAYS", 30, validators.validate_days, "E018"),
        ("NOTIFICATION_CLAIM_TIMEOUT", 300, seconds(positive=True), "E019"),
    )
}

#: Every key's default (kept as a plain dict for readers of the settings table).
DEFAULTS: dict[str, Any] = {name: entry.default for name, entry in SETTINGS.items()}


class ApiAuthSettings:
    """Attribute access to ``settings.APIAUTH`` with defaults, evaluated on every access."""

    def __getattr__(self, name: str) -> Any:
        if name not in SETTINGS:
            raise AttributeError(f"{SETTING_NAME} has no setting {name!r}")
        user = getattr(django_settings, SETTING_NAME, None) or {}
        if name != "ENCRYPTION_KEYS":
            return user.get(name, SETTINGS[name].default)
        keys = user.get(name)
        if isinstance(keys, str):
            # A single comma-separated string is what people paste from an env file.
            keys = keys.split(",")
        keys = keys or environ.Env().list(ENCRYPTION_KEYS_ENV, default=[])
        return [str(key).strip() for key in keys if str(key).strip()]

    def validated(self, name: str) -> Any:
        """The value of ``name`` as its validator returns it; ``ConfigurationError`` if bad."""
        try:
            return self._validate(name)
        except InvalidSetting as err:
            # An exception: English, whatever the active language (searchable in logs).
            raise refusal(
                ConfigurationError, "%(name)s %(err)s", name=f"{SETTING_NAME}[{name!r}]", err=err
            ) from None

    def _validate(self, name: str) -> Any:
        entry = SETTINGS[name]
        value = getattr(self, name)
        return value if entry.validate is None else entry.validate(value)

    def problems(self, tag: str | None = None) -> list[tuple[Setting, str]]:
        """Every bad value (of settings checked under ``tag``): ``(entry, message)``.

        The message is in the active language: system checks show it to people.
        """
        found = []
        for entry in SETTINGS.values():
            if tag is not None and entry.tag != tag:
                continue
            try:
                self._validate(entry.name)
            except InvalidSetting as err:
                found.append((entry, f"{SETTING_NAME}[{entry.name!r}] {translated(err)}"))
        return found

    def unknown_keys(self) -> list[str]:
        """Keys in ``settings.APIAUTH`` that this app does not know (usually typos)."""
        user = getattr(django_settings, SETTING_NAME, None) or {}
        return sorted(set(user) - set(SETTINGS))

    @staticmethod
    def did_you_mean(key: str) -> str | None:
        """The known setting an unknown ``key`` most likely misspells, if any."""
        close = difflib.get_close_matches(str(key).upper(), list(SETTINGS), n=1, cutoff=0.6)
        return close[0] if close else None


api_settings = ApiAuthSettings()
