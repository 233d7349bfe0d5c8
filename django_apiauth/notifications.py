"""Receiving the provider's notifications in a Django site.

``@verified_notification("shop")`` (or :class:`VerifiedNotificationMixin` on a
class-based view) checks an incoming notification against the signature secret
of the active credential named ``shop`` *before* the view runs:

====================================================  ==========================
request                                               answer (view not run)
====================================================  ==========================
not a POST                                            405 (``Allow: POST``)
body not a JSON object / form, or no ``signature``    400
signature does not verify (either scheme)             403
no active credential, or it has no signature secret   503 (logged as an error)
====================================================  ==========================

503 because a missing or unreadable credential is this site's misconfiguration,
not the sender's fault: the provider retries notifications it could not deliver,
so they are received once the credential is fixed.

The view then finds a :class:`Notification` in ``request.notification``.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
)
from django.http.multipartparser import MultiPartParserError
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from .exceptions import ConfigurationError, DecryptionError, SignatureError
from .signing import HASHED_FIELDS, SIGNATURE_PARAM, decode_notification, verify_notification

logger = logging.getLogger(__name__)

FORM_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

Scheme = Literal["hash", "jwt"]


@dataclass(frozen=True)
class Notification:
    """A notification whose signature has been verified.

    ``data`` holds what the signature covers: for the JWT scheme the whole
    decoded payload, for the hash scheme the six hashed fields (``created_at``,
    ``error``, ``id``, ``reference``, ``sandbox``, ``status``). ``unsigned``
    holds the rest of a hash-scheme body (``metadata``, ``additional_data``...):
    the provider does not sign it, so treat it as untrusted input.
    """

    credential: str
    scheme: Scheme
    data: dict[str, Any]
    unsigned: dict[str, Any] = field(default_factory=dict)


class _Rejected(Exception):
    """Internal: a notification that must be answered without running the view."""

    def __init__(self, response: HttpResponse, reason: str, *, level: int = logging.WARNING):
        super().__init__(reason)
        self.response = response
        self.reason = reason
        self.level = level


def verified_notification(credential: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a function view that receives notifications for ``credential``.

    The view runs only for a POST whose signature verifies, with the
    :class:`Notification` in ``request.notification``; it is CSRF-exempt (the
    provider has no CSRF token — the signature is what authenticates it).
    """
    if not isinstance(credential, str) or not credential:
        # Catches the bare ``@verified_notification`` (without a credential name).
        raise TypeError(
            "verified_notification needs the credential's name: @verified_notification('name')"
        )

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(view):
            raise TypeError("verified_notification supports synchronous views only")

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            answer = _guard(request, credential)
            if answer is not None:
                return answer
            return view(request, *args, **kwargs)

        return csrf_exempt(wrapper)

    return decorator


@method_decorator(csrf_exempt, name="dispatch")
class VerifiedNotificationMixin:
    """Class-based counterpart of :func:`verified_notification`.

    Set ``notification_credential`` (or override :meth:`get_notification_credential`)
    and implement ``post()``; ``self.request.notification`` holds the verified data.
    """

    notification_credential: str = ""

    def get_notification_credential(self) -> str:
        if not self.notification_credential:
            # A programming error, not a request error: fail loudly rather than answer 503.
            raise ConfigurationError(
                f"{type(self).__name__} must set notification_credential "
                "(or override get_notification_credential)"
            )
        return self.notification_credential

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        answer = _guard(request, self.get_notification_credential())
        if answer is not None:
            return answer
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


# ------------------------------------------------------------------ internals


def _guard(request: HttpRequest, credential: str) -> HttpResponse | None:
    """``None`` (and ``request.notification`` set) when the view may run, else the answer."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        request.notification = _verify(request, credential)  # type: ignore[attr-defined]
    except _Rejected as rejected:
        logger.log(
            rejected.level,
            "notification for credential %r refused (%s) from %s",
            credential,
            rejected.reason,
            request.META.get("REMOTE_ADDR", "?"),
        )
        return rejected.response
    return None


def _verify(request: HttpRequest, credential: str) -> Notification:
    body = _parse_body(request)
    if not isinstance(body.get(SIGNATURE_PARAM), str):
        raise _Rejected(_bad_request(), "no signature field")
    secret = _signature_secret(credential)
    if set(body) == {SIGNATURE_PARAM}:
        try:
            data = decode_notification(body[SIGNATURE_PARAM], secret)
        except SignatureError as err:
            # Our own messages: they say what failed, never echo the token.
            raise _Rejected(_forbidden(), f"jwt scheme: {err}") from None
        return Notification(credential=credential, scheme="jwt", data=data)
    if not verify_notification(body, secret):
        missing = [key for key in HASHED_FIELDS if key not in body]
        reason = f"missing fields {missing}" if missing else "signature does not match"
        raise _Rejected(_forbidden(), f"hash scheme: {reason}")
    return Notification(
        credential=credential,
        scheme="hash",
        data={key: body[key] for key in HASHED_FIELDS},
        unsigned={
            key: value
            for key, value in body.items()
            if key not in HASHED_FIELDS and key != SIGNATURE_PARAM
        },
    )


def _parse_body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type in FORM_CONTENT_TYPES:
        try:
            # Last value wins for a repeated key, for verification and for the view alike.
            return request.POST.dict()
        except MultiPartParserError:
            raise _Rejected(_bad_request(), "unreadable form body") from None
    # Anything else is read as JSON: senders do not always label it application/json.
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _Rejected(_bad_request(), "body is neither JSON nor a form") from None
    if not isinstance(body, dict):
        raise _Rejected(_bad_request(), f"JSON body is a {type(body).__name__}, not an object")
    return body


def _signature_secret(credential: str) -> str:
    # Imported here so this module can be imported (e.g. by a urls.py) before apps are ready.
    from .models import ApiCredential

    found = ApiCredential.objects.filter(name=credential, is_active=True).first()
    if found is None:
        raise _Rejected(_unavailable(), "no active credential with that name", level=logging.ERROR)
    try:
        secret = found.signature_secret
    except DecryptionError:
        raise _Rejected(
            _unavailable(), "its signature secret cannot be decrypted", level=logging.ERROR
        ) from None
    if not secret:
        raise _Rejected(_unavailable(), "it has no signature secret", level=logging.ERROR)
    return secret


def _bad_request() -> HttpResponse:
    return HttpResponseBadRequest("malformed notification", content_type="text/plain")


def _forbidden() -> HttpResponse:
    return HttpResponseForbidden("invalid notification signature", content_type="text/plain")


def _unavailable() -> HttpResponse:
    return HttpResponse("notifications are not configured", status=503, content_type="text/plain")
