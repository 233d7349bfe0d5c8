"""Refusals that read English in exceptions and logs, and in the staff's language on pages.

Exceptions and log lines stay English, to be searched for; what staff see (admin, system
checks, command output) is translated. One error serves both: raised with its English
text, it carries its template (marked with ``gettext_noop`` at the raise site, for
``makemessages``) and values, which :func:`translated` renders in the active language.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.utils.translation import gettext

__all__ = ["refusal", "translated"]

E = TypeVar("E", bound=BaseException)


def refusal(cls: type[E], template: str, **params: Any) -> E:
    """``cls(template % params)`` (English), remembering the template for :func:`translated`."""
    error = cls(template % params)
    error.template = template  # type: ignore[attr-defined]
    error.params = params  # type: ignore[attr-defined]
    return error


def translated(error: BaseException | str) -> str:
    """The error's text in the active language (nested errors too); plain text as it is."""
    template = getattr(error, "template", None)
    if template is None:
        return str(error)
    params = {
        name: translated(value) if isinstance(value, BaseException) else value
        for name, value in error.params.items()  # type: ignore[attr-defined]
    }
    return gettext(template) % params
