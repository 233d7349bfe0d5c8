"""Reading a notification's body: JSON or a form, within limits, or a fixed refusal.

A malformed body ends in :class:`MalformedBody` with a fixed reason: nothing from it is
ever echoed into a log line or an answer.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError

__all__ = ["MalformedBody", "parse_stored", "read_body"]

FORM_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

#: Genuine notifications are a few kilobytes; anything far bigger is refused
#: before it is parsed (Django's own DATA_UPLOAD_MAX_MEMORY_SIZE still applies).
MAX_BODY_BYTES = 256 * 1024

#: Deeper than any ``metadata`` a shop sends, shallow enough to walk cheaply.
MAX_DEPTH = 32

#: A number with more digits is no amount, id or timestamp: refuse it before
#: Python spends time converting it.
MAX_NUMBER_DIGITS = 40

#: Used when DATA_UPLOAD_MAX_NUMBER_FIELDS is None (unlimited) in the settings.
DEFAULT_MAX_FIELDS = 1000


class MalformedBody(Exception):
    """The body cannot be a notification; ``status`` is 400 or 413, ``reason`` is fixed text."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def read_body(request: HttpRequest) -> tuple[bytes, dict[str, Any]]:
    """The raw body of a notification request, and it as a dict (JSON object or form fields)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise MalformedBody("unreadable Content-Length") from None
    if declared > MAX_BODY_BYTES:
        raise MalformedBody("body too large", status=413)
    try:
        raw = request.body
    except RequestDataTooBig:
        raise MalformedBody("body too large", status=413) from None
    except (OSError, SuspiciousOperation):
        raise MalformedBody("unreadable body") from None
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedBody("body too large", status=413)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("body is not UTF-8 text") from None
    if request.content_type in FORM_CONTENT_TYPES:
        return raw, _form_fields(request)
    # Anything else is read as JSON: senders do not always label it application/json.
    return raw, parse_json(text)


def parse_stored(text: str) -> dict[str, Any]:
    """A body as the delivery log stored it (raw JSON, or an urlencoded form), as a dict."""
    if text.lstrip().startswith("{"):
        return parse_json(text)
    return _fields(QueryDict(text))


def parse_json(text: str) -> dict[str, Any]:
    """A JSON object within the limits above, else :class:`MalformedBody`."""
    try:
        body = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
        )
    except MalformedBody:
        raise
    except RecursionError:
        raise MalformedBody("JSON nested too deeply") from None
    except ValueError:
        raise MalformedBody("body is neither a JSON object nor a form") from None
    if not isinstance(body, dict):
        raise MalformedBody("JSON body is not an object")
    _check_shape(body)
    return body


def _form_fields(request: HttpRequest) -> dict[str, Any]:
    try:
        form = request.POST
        files = request.FILES
    except (MultiPartParserError, SuspiciousOperation):
        # TooManyFieldsSent and RequestDataTooBig are SuspiciousOperations too.
        raise MalformedBody("unreadable form body") from None
    if files:
        raise MalformedBody("file uploads are not notifications")
    return _fields(form)


def _fields(form: QueryDict) -> dict[str, Any]:
    if any(len(values) > 1 for _key, values in form.lists()):
        raise MalformedBody("a form field is repeated")
    return form.dict()


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which duplicate wins; a genuine notification has none.
    body = dict(pairs)
    if len(body) != len(pairs):
        raise MalformedBody("JSON object with a repeated key")
    return body


def _refuse_constant(name: str) -> Any:
    raise MalformedBody("NaN or Infinity in JSON")


def _bounded_int(digits: str) -> int:
    if len(digits) > MAX_NUMBER_DIGITS:
        raise MalformedBody("number too large")
    return int(digits)


def _finite_float(digits: str) -> float:
    value = float(digits) if len(digits) <= MAX_NUMBER_DIGITS * 2 else math.inf
    if not math.isfinite(value):
        raise MalformedBody("number too large")
    return value


def _check_shape(body: dict[str, Any]) -> None:
    limit = getattr(settings, "DATA_UPLOAD_MAX_NUMBER_FIELDS", None) or DEFAULT_MAX_FIELDS
    count = 0
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MalformedBody("JSON nested too deeply")
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            count += 1
            if count > limit:
                raise MalformedBody("too many fields")
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
