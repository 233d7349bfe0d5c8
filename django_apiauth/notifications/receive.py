"""The one pipeline behind every way in: read, verify, log, process exactly once, answer.

Its answers before the site's code runs are tabled in ``docs/notifications.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from asgiref.sync import async_to_sync, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from django_apiauth import clock, telemetry
from django_apiauth.credential_cache import ClientCache
from django_apiauth.exceptions import (
    ConfigurationError,
    CredentialNotFound,
    DecryptionError,
    SignatureError,
)
from django_apiauth.notifications.body import MalformedBody, read_body
from django_apiauth.notifications.verify import (
    HASHED_FIELDS,
    SIGNATURE_PARAM,
    check_hash,
    check_jwt,
)
from django_apiauth.signals import notification_refused

if TYPE_CHECKING:
    from django_apiauth.notifications.deliveries import Inbound

__all__ = [
    "SIGNALS_HANDLER",
    "Notification",
    "Refused",
    "Scheme",
    "ahandle",
    "handle",
    "process_verified",
    "refusal_log",
    "schemes_of",
    "verify_body",
]

logger = logging.getLogger(__name__)

Scheme = Literal["hash", "jwt"]

#: Every scheme the provider uses: payments are hash-signed, transfers are JWTs.
SCHEMES: tuple[Scheme, ...] = ("hash", "jwt")

#: Fixed answer texts: nothing from the request is ever echoed.
ANSWERS = {
    200: "notification accepted",
    400: "malformed notification",
    403: "invalid notification signature",
    413: "notification too large",
    500: "notification handler failed",
}
DUPLICATE_ANSWER = "notification already processed"
DEFERRED_ANSWER = "notification is being processed; retry later"

#: The ``handler`` of the ready-made routes (views are named by their dotted path).
SIGNALS_HANDLER = "signals"

#: Seconds the provider is asked to wait when the first delivery is still in flight.
RETRY_AFTER = 30


@dataclass(frozen=True)
class Notification:
    """A notification whose signature has been verified.

    ``data`` holds what the signature covers: for the JWT scheme the decoded
    payload; for the hash scheme the six hashed fields (``created_at``,
    ``error``, ``id``, ``reference``, ``sandbox``, ``status``) *as the text that
    was hashed* — ``"true"`` or ``"1"`` for a JSON ``true``, ``""`` for ``null``,
    ``"7"`` for ``7`` — so re-typing a value cannot change what the site reads.
    ``unsigned`` holds the rest of a hash-scheme body (``metadata``,
    ``additional_data``...): the provider does not sign it, so treat it as
    untrusted input. ``identity`` is what makes redeliveries recognisable
    (``id:<id>`` for payments, the token's ``jti`` or MAC for transfers).
    """

    credential: str
    scheme: Scheme
    data: dict[str, Any]
    unsigned: dict[str, Any] = field(default_factory=dict)
    identity: str = field(default="", compare=False)


class Refused(Exception):
    """A delivery answered without running the site's code; ``reason`` is fixed text."""

    def __init__(self, status: int, reason: str, *, scheme: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.scheme = scheme


class ViewDeclined(Exception):
    """A view answered 4xx/5xx: the notification is not processed, the provider retries."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(f"the view answered {response.status_code}")
        self.response = response


Work = Callable[[Notification], "HttpResponse | None"]
AsyncWork = Callable[[Notification], Awaitable["HttpResponse | None"]]


def schemes_of(value: str | Iterable[str]) -> tuple[Scheme, ...]:
    """``"hash"``, ``"jwt"`` or several of them, checked; a programming error raises."""
    chosen = (value,) if isinstance(value, str) else tuple(value)
    unknown = [scheme for scheme in chosen if scheme not in SCHEMES]
    if not chosen or unknown:
        raise ConfigurationError(f"notification scheme must be 'hash' or 'jwt', not {unknown!r}")
    return chosen  # type: ignore[return-value]


@telemetry.notification
def handle(
    request: HttpRequest,
    credential: str,
    schemes: tuple[Scheme, ...],
    work: Work,
    *,
    handler: str,
) -> HttpResponse:
    """Run a notification request through the pipeline, with ``work`` as the site's code.

    ``work`` returns a response (a view), or ``None`` for the fixed 200. A view
    answering 4xx/5xx, or ``work`` raising, leaves the notification unprocessed:
    its writes are rolled back, the delivery is logged ``error`` and the provider retries.
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    # Imported here so this module can be imported (e.g. by a urls.py) before apps are ready.
    from django_apiauth.notifications import deliveries

    inbound = deliveries.Inbound.from_meta(credential, request.META, handler)
    try:
        raw, body = read_body(request)
        inbound = inbound.with_body(raw)
        notification, secret = verify_body(body, credential, schemes)
    except (Refused, MalformedBody) as err:
        refusal = err if isinstance(err, Refused) else Refused(err.status, err.reason)
        deliveries.refused(inbound, refusal.scheme, refusal.reason)
        _announce_refusal(inbound.credential, refusal, inbound.remote_addr)
        return _text(refusal.status)
    outcome, result, error = process_verified(
        inbound, notification, lambda: _checked(work(notification)), secret
    )
    if outcome == deliveries.Outcome.DUPLICATE:
        logger.info("duplicate notification for %r answered again", credential)
        return HttpResponse(DUPLICATE_ANSWER, content_type="text/plain")
    if outcome == deliveries.Outcome.DEFERRED:
        response = HttpResponse(DEFERRED_ANSWER, status=503, content_type="text/plain")
        response["Retry-After"] = str(RETRY_AFTER)
        return response
    return _answer(result, error, handler)


async def ahandle(
    request: HttpRequest,
    credential: str,
    schemes: tuple[Scheme, ...],
    work: AsyncWork,
    *,
    handler: str,
) -> HttpResponse:
    """:func:`handle` for ``async`` views, the same pipeline in Django's database thread.

    The view runs on the event loop (``async_to_sync``), and its ORM calls come
    back to that thread, so its writes share the delivery's transaction too. Measured
    (telemetry) by :func:`handle` alone: once per delivery.
    """
    run = sync_to_async(handle, thread_sensitive=True)
    return await run(request, credential, schemes, async_to_sync(work), handler=handler)


def process_verified(
    inbound: Inbound, notification: Notification, work: Callable[[], Any], secret: str
) -> tuple[str, Any, BaseException | None]:
    """:func:`deliveries.process` for a verified ``notification`` (also "Process again")."""
    from django_apiauth.notifications import deliveries

    return deliveries.process(
        inbound,
        notification.scheme,
        notification.identity,
        work,
        deliveries.redactor(secret),
        notification_id=notification.identity.split(":", 1)[1],
        reference=str(notification.data.get("reference", "")),
    )


def verify_body(
    body: dict[str, Any],
    credential: str,
    schemes: tuple[Scheme, ...],
    *,
    check_times: bool = True,
) -> tuple[Notification, str]:
    """Verify a parsed body against ``credential``'s secret: the notification and that secret.

    Raises :class:`Refused` (400 wrong scheme or no signature, 403 not verified or no
    usable credential). ``check_times=False`` is for processing again.
    """
    signature = body.get(SIGNATURE_PARAM)
    if not isinstance(signature, str):
        raise Refused(400, "no signature field")
    scheme: Scheme = "jwt" if set(body) == {SIGNATURE_PARAM} else "hash"
    if scheme not in schemes:
        raise Refused(400, f"a {scheme}-scheme body; this route accepts {'/'.join(schemes)}")
    try:
        secret, unusable = _signature_secrets.get(credential)
    except CredentialNotFound:
        secret, unusable = "", "no active credential with that name"
    if unusable:
        # Answered like a bad signature (names cannot be probed); the logs keep the reason.
        raise Refused(403, unusable, scheme=scheme)
    try:
        if scheme == "jwt":
            token = check_jwt(signature, secret, check_times=check_times)
            data, unsigned, identity = token.payload, {}, token.identity
        else:
            data = check_hash(body, secret)
            unsigned = {k: v for k, v in body.items() if k not in HASHED_FIELDS}
            del unsigned[SIGNATURE_PARAM]
            # An empty id cannot tell notifications apart; the signature can.
            identity = f"id:{data['id']}" if data["id"] else f"sig:{signature.upper()}"
    except SignatureError as err:
        # Our own messages: they say what failed, never echo a value or the token.
        raise Refused(403, f"{scheme} scheme: {err}", scheme=scheme) from None
    notification = Notification(credential, scheme, data, unsigned, identity=identity)
    return notification, secret


def _signature_secret(credential: Any) -> tuple[str, str]:
    """``(secret, "")``, or ``("", why it is not usable)``: kept per process below."""
    try:
        secret = credential.signature_secret
    except DecryptionError:
        return "", "its signature secret cannot be decrypted"
    return secret, "" if secret else "it has no signature secret"


#: The intake's signature secrets, kept per process and fresh like the clients.
_signature_secrets: ClientCache[tuple[str, str]] = ClientCache(_signature_secret)


def _announce_refusal(credential: str, refused: Refused, remote_addr: str | None) -> None:
    # WARNING, never ERROR, and without the request: refusals are what strangers can
    # cause at will, and must not turn into error reports mailed to ADMINS.
    if refusal_log.allows(credential):
        logger.warning(
            "notification for credential %r refused (%s) from %s",
            credential,
            refused.reason,
            remote_addr or "?",
        )
    # send_robust: a monitoring receiver failing must not turn a refusal into a
    # 500 (Django logs the receiver's exception on "django.dispatch").
    notification_refused.send_robust(
        sender=Notification, credential=credential, scheme=refused.scheme, reason=refused.reason
    )


class _LogBudget:
    """At most one refusal line per credential name per minute, and 20 a minute in all.

    Names come from URLs anyone can make up, so the per-name memory is bounded too.
    """

    def __init__(self, per_minute: int = 20, names: int = 1024) -> None:
        self.per_minute, self.names = per_minute, names
        self.reset()

    def reset(self) -> None:
        self.last: dict[str, float] = {}
        self.spent: list[float] = []

    def allows(self, name: str) -> bool:
        now = clock.current.monotonic()
        self.spent = [at for at in self.spent if now - at < 60]
        if now - self.last.get(name, -60.0) < 60 or len(self.spent) >= self.per_minute:
            return False
        if len(self.last) >= self.names:
            self.last.clear()
        self.last[name] = now
        self.spent.append(now)
        return True


refusal_log = _LogBudget()


def _checked(result: HttpResponse | None) -> HttpResponse | None:
    if isinstance(result, HttpResponse) and result.status_code >= 400:
        raise ViewDeclined(result)
    return result


def _answer(result: HttpResponse | None, error: BaseException | None, handler: str):
    if isinstance(error, ViewDeclined):
        return error.response
    if error is not None:
        if handler != SIGNALS_HANDLER:
            raise error  # a view's own exception: Django's usual 500 and error report
        return _text(500)
    return result if result is not None else _text(200)


def _text(status: int) -> HttpResponse:
    return HttpResponse(ANSWERS[status], status=status, content_type="text/plain")
