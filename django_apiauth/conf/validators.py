"""The validators of ``APIAUTH`` values that need no other setting: value -> the value to use.

Each raises :class:`InvalidSetting`, whose text completes ``APIAUTH['NAME'] ...``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from django.conf import settings as django_settings
from django.utils.translation import gettext_noop

from django_apiauth.addresses import parse_host_entry
from django_apiauth.exceptions import ConfigurationError
from django_apiauth.messages import refusal

__all__ = [
    "SETTING_NAME",
    "InvalidSetting",
    "refused",
    "seconds",
    "shown",
    "validate_allowed_hosts",
    "validate_cache_alias",
    "validate_check_path",
    "validate_days",
    "validate_flag",
    "validate_max_retries",
    "validate_timeout",
    "validate_token_path",
    "validate_verify",
]

SETTING_NAME = "APIAUTH"


class InvalidSetting(ValueError):
    """Raised by a validator: the text completes ``APIAUTH['NAME'] ...``."""


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, shortened: settings are not secret, but messages stay one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refused(template: str, value: Any) -> InvalidSetting:
    """The ``InvalidSetting`` to raise: ``template`` (a msgid) with ``value`` shown."""
    return refusal(InvalidSetting, template, value=shown(value))


def _is_number(value: Any) -> bool:
    # True is an int to Python, not a duration.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def seconds(*, positive: bool) -> Callable[[Any], float]:
    """A validator of a duration in seconds: a finite number, > 0 or >= 0."""

    def validate(value: Any) -> float:
        if _is_number(value) and (value > 0 if positive else value >= 0):
            return float(value)
        template = gettext_noop("must be a number (0 or more) of seconds, got %(value)s")
        if positive:
            template = gettext_noop("must be a positive number of seconds, got %(value)s")
        raise refused(template, value)

    return validate


def validate_timeout(value: Any) -> float | tuple[float, float]:
    # None would mean no timeout at all, which the contract never allows.
    if _is_number(value) and value > 0:
        return value
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(_is_number(part) and part > 0 for part in value)
    ):
        return tuple(value)
    template = gettext_noop(
        "must be a positive number of seconds or a (connect, read) pair of them, got %(value)s"
    )
    raise refused(template, value)


def validate_max_retries(value: Any) -> int:
    # urllib3 reads None as "no limit", and a string fails deep inside it.
    if _is_whole(value, 0):
        return value
    template = gettext_noop("must be a whole number of retries (0 or more), got %(value)s")
    raise refused(template, value)


def validate_verify(value: Any) -> bool | str:
    """``True`` or the path of an existing CA bundle; ``False``/``None`` are refused."""
    if value is True:
        return True
    if value is False or value is None:
        template = gettext_noop(
            "= %(value)s is refused: credentials only travel over verified TLS. "
            "Set it to True or to the path of a CA bundle."
        )
        raise refusal(InvalidSetting, template, value=value)
    if isinstance(value, (str, os.PathLike)) and os.fspath(value) and os.path.exists(value):
        return os.fspath(value)
    template = gettext_noop("must be True or the path of an existing CA bundle, got %(value)s")
    raise refused(template, value)


def validate_check_path(value: Any) -> str | None:
    # A relative "api/merchant" is the same path (the client joins it to the endpoint).
    if value is None or (
        isinstance(value, str) and value.strip() == value and value and "://" not in value
    ):
        return value
    if isinstance(value, str):
        template = gettext_noop("must be a path such as '/api/merchant' (or None), not %(value)s")
        raise refused(template, value)
    template = gettext_noop("must be a path such as '/api/merchant' (or None), not a %(type)s")
    raise refusal(InvalidSetting, template, type=type(value).__name__)


def validate_token_path(value: Any) -> str:
    if isinstance(value, str) and value.startswith("/") and value.strip() == value:
        return value
    template = gettext_noop("must be a path starting with '/', such as '/api/token', got %(value)s")
    raise refused(template, value)


def validate_cache_alias(value: Any) -> str:
    if isinstance(value, str) and value in getattr(django_settings, "CACHES", {}):
        return value
    raise refused(gettext_noop("is %(value)s, which is not in CACHES."), value)


def validate_allowed_hosts(value: Any) -> Any:
    if value is None:
        return value  # the hosts of ENVIRONMENTS, which E012 checks
    if not isinstance(value, (list, tuple)):
        raise refused(gettext_noop("must be None or a list of host names, got %(value)s"), value)
    try:
        for entry in value:
            parse_host_entry(entry)
    except ConfigurationError as err:
        raise InvalidSetting(str(err).removeprefix(f"{SETTING_NAME}['ALLOWED_HOSTS'] ")) from None
    return value


def validate_days(value: Any) -> int:
    if _is_whole(value, 1):
        return value
    raise refused(gettext_noop("must be a whole number of days (1 or more), got %(value)s"), value)


def validate_flag(value: Any) -> bool:
    # A string such as "False" from an env file would otherwise read as True.
    if isinstance(value, bool):
        return value
    raise refused(gettext_noop("must be True or False, got %(value)s"), value)
