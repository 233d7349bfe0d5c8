"""The delivery log and the exactly-once rule behind every notification view.

Each delivery gets a :class:`~django_apiauth.models.NotificationDelivery` row.
A verified notification first *claims* its key — a hash of (credential, scheme,
the notification's identity) — by inserting its row with that key under a
unique constraint, in a short transaction of its own:

* the insert succeeds: this delivery processes the notification (the site's
  code runs), then the row becomes ``accepted``; if the site's code fails, the
  row becomes ``error`` and gives the key back, so the provider's retry runs again;
* the key is held by an ``accepted`` row: a redelivery — answered 200, logged
  ``duplicate``, not handed to the site's code;
* the key is held by a row still ``processing``: the first delivery is in
  flight elsewhere — logged ``deferred`` and answered 503 so the provider retries
  later; after ``NOTIFICATION_CLAIM_TIMEOUT`` seconds such a row counts as
  abandoned (its worker died) and is taken over.

The database is the only arbiter: no cache is involved, so threads, processes
and hosts agree, and a cache outage changes nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone

from django_apiauth import telemetry
from django_apiauth.conf import api_settings
from django_apiauth.models import NotificationDelivery

logger = logging.getLogger("django_apiauth.notifications.receive")

Outcome = NotificationDelivery.Outcome
T = TypeVar("T")

#: Field lengths of the log (values longer than these are cut, never refused).
_SHORT = 255

#: How many times a claim is retried when the holder vanished in between.
_CLAIM_ATTEMPTS = 3

#: Stored in place of a secret found in a traceback.
REDACTED = "[redacted]"


class Redactor:
    """Values to blank out of stored tracebacks; its repr shows none of them.

    It travels through frames that are on the stack while the site's code runs,
    so a debug page or an error report listing local variables shows only this repr.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values = tuple(value for value in values if value)

    def __repr__(self) -> str:
        return "<Redactor>"

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        return text


@dataclass(frozen=True)
class Inbound:
    """What the log records about a delivery before (and whatever) verification says."""

    credential: str
    remote_addr: str | None
    handler: str
    body: str = ""  # the parsed body as JSON, "" when it could not be read

    @classmethod
    def from_meta(cls, credential: str, meta: dict[str, Any], handler: str) -> Inbound:
        # REMOTE_ADDR only: forwarded headers are the sender's word, not a fact.
        address = meta.get("REMOTE_ADDR") or None
        try:
            ipaddress.ip_address(address or "")
        except ValueError:
            address = None
        return cls(credential=credential[:64], remote_addr=address, handler=handler[:_SHORT])

    def with_body(self, body: dict[str, Any]) -> Inbound:
        return Inbound(self.credential, self.remote_addr, self.handler, json.dumps(body))


@dataclass(frozen=True)
class Claim:
    """The result of :func:`claim`: ``state`` is an ``Outcome`` value."""

    state: str
    delivery: NotificationDelivery

    @property
    def is_new(self) -> bool:
        return self.state == Outcome.PROCESSING


def claim_key(credential: str, scheme: str, identity: str) -> str:
    """The unique key of one notification: the same for every redelivery of it."""
    material = json.dumps([credential, scheme, identity]).encode("utf-8")
    return hashlib.sha256(material).hexdigest()


def record_refusal(inbound: Inbound, scheme: str, reason: str) -> None:
    """Log a refused delivery; never raises (a refusal must not become a 500)."""
    try:
        _create(inbound, scheme=scheme, outcome=Outcome.REFUSED, reason=reason)
    except Exception:
        logger.exception("could not record a refused notification for %r", inbound.credential)


def claim(
    inbound: Inbound, scheme: str, identity: str, *, notification_id: str, reference: str
) -> Claim:
    """Claim a verified notification for this delivery (see the module docstring)."""
    key = claim_key(inbound.credential, scheme, identity)
    fields = {"scheme": scheme, "notification_id": notification_id, "reference": reference}
    for _attempt in range(_CLAIM_ATTEMPTS):
        try:
            with transaction.atomic():
                row = _create(inbound, outcome=Outcome.PROCESSING, claim=key, **fields)
            return Claim(Outcome.PROCESSING, row)
        except IntegrityError:
            holder = NotificationDelivery.objects.filter(claim=key).first()
        if holder is None:
            continue  # the holder failed and gave the key back in between: try again
        if holder.outcome == Outcome.ACCEPTED:
            reason = f"already accepted (delivery {holder.pk})"
            return Claim(
                Outcome.DUPLICATE,
                _create(inbound, outcome=Outcome.DUPLICATE, reason=reason, **fields),
            )
        if not _abandon_if_stale(holder):
            reason = f"first delivery {holder.pk} still processing"
            return Claim(
                Outcome.DEFERRED,
                _create(inbound, outcome=Outcome.DEFERRED, reason=reason, **fields),
            )
    reason = "claim contended; retry"
    return Claim(
        Outcome.DEFERRED, _create(inbound, outcome=Outcome.DEFERRED, reason=reason, **fields)
    )


def run_claimed(
    delivery: NotificationDelivery, work: Callable[[], T], redact: Redactor
) -> tuple[T | None, BaseException | None]:
    """Run the site's code for a claimed delivery; ``(result, None)`` or ``(None, error)``.

    The site's database writes and the ``accepted`` mark commit together: if the
    code raises, or the process dies, neither is kept.
    """
    try:
        with transaction.atomic():
            result = work()
            mark_accepted(delivery)
    except Exception as err:
        mark_failed(delivery, err, redact)
        return None, err
    return result, None


def mark_accepted(delivery: NotificationDelivery) -> None:
    _update(delivery, outcome=Outcome.ACCEPTED, finished_at=timezone.now())


def mark_failed(delivery: NotificationDelivery, error: BaseException, redact: Redactor) -> None:
    """Record the failure (traceback without secrets) and give the claim back."""
    text = redact("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    reason = redact(f"{type(error).__name__}: {error}")[:_SHORT]
    logger.error(
        "notification delivery %s for %r failed in the site's code: %s",
        delivery.pk,
        delivery.credential,
        reason,
    )
    try:
        _update(
            delivery,
            outcome=Outcome.ERROR,
            claim=None,
            reason=reason,
            error=text,
            finished_at=timezone.now(),
        )
    except Exception:
        logger.exception("could not record the failure of delivery %s", delivery.pk)


def prune(days: int | None = None) -> int:
    """Delete log rows older than ``days`` (default ``NOTIFICATION_RETENTION_DAYS``)."""
    days = api_settings.validated("NOTIFICATION_RETENTION_DAYS") if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _per_model = NotificationDelivery.objects.filter(received_at__lt=cutoff).delete()
    return deleted


# ------------------------------------------------------------------ internals


def _create(inbound: Inbound, **fields: Any) -> NotificationDelivery:
    for name in ("reason", "notification_id", "reference"):
        if name in fields:
            fields[name] = str(fields[name])[:_SHORT]
    telemetry.notification_outcome(inbound.credential, fields.get("scheme", ""), fields["outcome"])
    return NotificationDelivery.objects.create(
        credential=inbound.credential,
        remote_addr=inbound.remote_addr,
        handler=inbound.handler,
        body=inbound.body,
        **fields,
    )


def _update(delivery: NotificationDelivery, **fields: Any) -> None:
    telemetry.notification_outcome(delivery.credential, delivery.scheme, fields["outcome"])
    NotificationDelivery.objects.filter(pk=delivery.pk).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)


def _abandon_if_stale(holder: NotificationDelivery) -> bool:
    """Free the key of a ``processing`` row older than the claim timeout; True if freed."""
    cutoff = timezone.now() - timedelta(
        seconds=api_settings.validated("NOTIFICATION_CLAIM_TIMEOUT")
    )
    if holder.outcome != Outcome.PROCESSING or holder.received_at >= cutoff:
        return False
    # Conditional, so of two deliveries that both find it stale only one frees it.
    freed = NotificationDelivery.objects.filter(
        pk=holder.pk, outcome=Outcome.PROCESSING, claim=holder.claim
    ).update(
        outcome=Outcome.ERROR,
        claim=None,
        reason="abandoned: processing never finished",
        finished_at=timezone.now(),
    )
    return bool(freed)
