"""What error reports would show of an exception, and the forms a secret takes in them."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.test import RequestFactory
from django.views.debug import ExceptionReporter


def raised(action: Callable[[], Any]) -> BaseException:
    """The exception ``action`` raises (this frame holds nothing but ``action``)."""
    try:
        action()
    except Exception as err:
        return err
    raise AssertionError("the action did not fail")


def django_reports(exc: BaseException) -> list[str]:
    """The HTML and text reports ``AdminEmailHandler(include_html=True)`` sends (DEBUG off)."""
    request = RequestFactory().get("/checkout/")
    reporter = ExceptionReporter(request, type(exc), exc, exc.__traceback__)
    return [reporter.get_traceback_html(), reporter.get_traceback_text()]


def _shown(value: Any, depth: int = 0) -> Iterable[str]:
    # What a frame-local reader (Sentry-style) serialises: reprs, walking into containers.
    try:
        yield repr(value)
    except Exception:  # a QuerySet in a broken transaction, say: reporters skip it too
        return
    if depth >= 4 or isinstance(value, (str, bytes)):
        return
    if isinstance(value, Mapping):
        for key, item in list(value.items()):
            yield from _shown(key, depth + 1)
            yield from _shown(item, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in list(value):
            yield from _shown(item, depth + 1)


def frame_locals(exc: BaseException) -> list[str]:
    """Every local of every frame of ``exc`` and of every exception chained to it.

    Both ``__cause__`` and ``__context__``, suppressed or not: a reader may walk either.
    """
    shown: list[str] = []
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        shown += [repr(current), str(current)]
        tb = current.__traceback__
        while tb is not None:
            for value in tb.tb_frame.f_locals.values():
                shown.extend(_shown(value))
            tb = tb.tb_next
        pending += [current.__cause__, current.__context__]
    return shown


def basic_forms(user: str, password: str) -> set[str]:
    """The base64 forms of a Basic ``user:password`` (UTF-8, and Latin-1 where it can be)."""
    forms = {base64.b64encode(f"{user}:{password}".encode()).decode().rstrip("=")}
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(base64.b64encode(f"{user}:{password}".encode("latin-1")).decode().rstrip("="))
    return forms


def leaks(secrets: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The secrets (shortened) found in any of ``texts``."""
    texts = list(texts)
    return [f"{secret[:6]}..." for secret in secrets if any(secret in text for text in texts)]


def everything_shown(exc: BaseException) -> list[str]:
    return django_reports(exc) + frame_locals(exc)
