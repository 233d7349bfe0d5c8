"""The delivery log (one row per delivery) and the exactly-once rule behind every way in.

:func:`process` runs a verified notification in one transaction fenced by the database
("Exactly once" in ``docs/architecture.md``).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from django.db import connections, router, transaction
from django.utils import timezone

from django_apiauth import telemetry
from django_apiauth.conf import api_settings
from django_apiauth.models import NotificationDelivery

__all__ = ["Inbound", "Outcome", "claim_key", "process", "prune", "redactor", "refused"]

logger = logging.getLogger("django_apiauth.notifications.receive")

Outcome = NotificationDelivery.Outcome
T = TypeVar("T")

#: Field lengths of the log (values longer than these are cut, never refused).
_SHORT = 255

#: Stored in place of a secret found in a traceback.
REDACTED = "[redacted]"


def redactor(*values: str) -> Callable[[str], str]:
    """Blanks ``values`` out of stored tracebacks; a function: its repr (listed by error
    reports, as every frame's locals) shows none of them."""
    values = tuple(value for value in values if value)

    def redact(text: str) -> str:
        for value in values:
            text = text.replace(value, REDACTED)
        return text

    return redact


@dataclass(frozen=True)
class Inbound:
    """What the log records about a delivery, whatever verification says.

    ``body`` is the raw text received: stored encrypted, except for refused deliveries.
    """

    credential: str
    remote_addr: str | None
    handler: str
    body: str = ""
    size: int | None = None

    @classmethod
    def from_meta(cls, credential: str, meta: dict[str, Any], handler: str) -> Inbound:
        # REMOTE_ADDR only: forwarded headers are the sender's word, not a fact.
        address = meta.get("REMOTE_ADDR") or None
        try:
            ipaddress.ip_address(address or "")
        except ValueError:
            address = None
        return cls(credential=credential[:64], remote_addr=address, handler=handler[:_SHORT])

    def with_body(self, raw: bytes) -> Inbound:
        return replace(self, body=raw.decode("utf-8", "replace"), size=len(raw))

    def digest(self) -> str:
        return hashlib.sha256(self.body.encode("utf-8", "surrogatepass")).hexdigest()


def claim_key(credential: str, scheme: str, identity: str) -> str:
    """The unique key of one notification: the same for every redelivery of it."""
    material = json.dumps([credential, scheme, identity]).encode("utf-8")
    return hashlib.sha256(material).hexdigest()


def refused(inbound: Inbound, scheme: str, reason: str) -> None:
    """Log a refused delivery — its size and SHA-256, not its body; never raises."""
    try:
        digest = inbound.digest() if inbound.size else ""
        _create(
            replace(inbound, body=""),
            scheme=scheme,
            outcome=Outcome.REFUSED,
            reason=reason,
            body_sha256=digest,
        )
    except Exception:
        logger.exception("could not record a refused notification for %r", inbound.credential)
    telemetry.notification_outcome(inbound.credential, scheme, Outcome.REFUSED)


def process(
    inbound: Inbound,
    scheme: str,
    identity: str,
    work: Callable[[], T],
    redact: Callable[[str], str],
    *,
    notification_id: str,
    reference: str,
) -> tuple[str, T | None, BaseException | None]:
    """Process a verified notification exactly once: take its lock, skip a duplicate, run
    ``work`` in the transaction that inserts the ``accepted`` row.

    Returns ``(outcome, work's result, None)``, or ``(Outcome.ERROR, None, error)``.
    """
    key = claim_key(inbound.credential, scheme, identity)
    fields = {"scheme": scheme, "notification_id": notification_id, "reference": reference}
    using = router.db_for_write(NotificationDelivery)
    outcome, result, error = Outcome.ACCEPTED, None, None
    try:
        with transaction.atomic(using=using):
            outcome, holder = _claim(using, inbound, key, fields)
            if outcome == Outcome.ACCEPTED:
                result = work()
            else:
                reason = (
                    "first delivery still processing"
                    if outcome == Outcome.DEFERRED
                    else f"already accepted (delivery {holder or '?'})"
                )
                _create(inbound, outcome=outcome, reason=reason, **fields)
    except Exception as err:
        _failed(inbound, fields, err, redact)
        outcome, result, error = Outcome.ERROR, None, err
    # The final outcome only: an accepted row rolled back by a failure is not one.
    telemetry.notification_outcome(inbound.credential, scheme, outcome)
    return outcome, result, error


def prune(days: int | None = None) -> int:
    """Delete log rows older than ``days`` (default ``NOTIFICATION_RETENTION_DAYS``)."""
    days = api_settings.validated("NOTIFICATION_RETENTION_DAYS") if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _per_model = NotificationDelivery.objects.filter(received_at__lt=cutoff).delete()
    return deleted


def _claim(using: str, inbound: Inbound, key: str, fields: dict[str, Any]) -> tuple[str, Any]:
    """Insert the ``accepted`` row holding ``key`` unless another delivery holds or has it.

    Returns ``(Outcome.ACCEPTED, None)``, ``(Outcome.DEFERRED, None)`` (the first delivery
    is still in flight) or ``(Outcome.DUPLICATE, the accepted row's pk or None)``.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        columns, sql = _claim_statement(using)
        row = _accepted_values(inbound, key, fields, connection)
        values = [row[name] for name in columns]
        with connection.cursor() as cursor:
            # 64 bits of the key name its lock: a collision only defers another delivery once.
            cursor.execute(sql, [int(key[:16], 16) - 2**63, *values])
            held, pk = cursor.fetchone()
        if not held:
            return Outcome.DEFERRED, None
        if pk is None:  # the key is taken: by a committed accepted row
            return Outcome.DUPLICATE, _holder(using, key)
        return Outcome.ACCEPTED, None
    # Elsewhere the unique constraint on the key serialises the deliveries.
    if holder := _holder(using, key):
        return Outcome.DUPLICATE, holder
    _create(inbound, outcome=Outcome.ACCEPTED, claim=key, finished_at=timezone.now(), **fields)
    return Outcome.ACCEPTED, None


def _holder(using: str, key: str) -> Any:
    # On the transaction's database: a read replica may not have the row yet.
    claimed = NotificationDelivery.objects.using(using).filter(claim=key)
    return claimed.values_list("pk", flat=True).first()


def _accepted_values(inbound: Inbound, key: str, fields: dict[str, Any], connection) -> dict:
    """The ``accepted`` row's column values, ready for the database: what :func:`_create`
    would write, without a model instance (a sixth of a delivery's CPU went to building one)."""
    now = timezone.now()
    body = NotificationDelivery._meta.get_field("body")
    return {
        "received_at": now,
        "credential": inbound.credential,
        "remote_addr": inbound.remote_addr,
        "handler": inbound.handler,
        "body": body.get_db_prep_save(inbound.body, connection),  # encrypted (unbound)
        "body_size": inbound.size,
        "body_sha256": "",
        "outcome": Outcome.ACCEPTED.value,
        "reason": "",
        "error": "",
        "claim": key,
        "finished_at": now,
        **_cut(fields),
    }


@functools.cache
def _claim_statement(using: str) -> tuple[list[str], str]:
    """One round trip (PostgreSQL): take the notification's lock without waiting and, if
    it is ours, insert the row unless the key is taken. No ORM: it was a third of the time.

    Parameters: the lock's number, then a value per column. Kept per database alias.
    """
    connection = connections[using]
    meta = NotificationDelivery._meta
    columns = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    # Cast: in INSERT ... SELECT an untyped literal is text, which no inet column takes.
    select = ", ".join(f"%s::{f.cast_db_type(connection)}" for f in columns)
    pk = quote(meta.pk.column)
    # Names from the model's meta, quoted; every value is a parameter.
    sql = (
        f"WITH lock AS (SELECT pg_try_advisory_xact_lock(%s) AS held), "  # noqa: S608
        f"claimed AS (INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(f.column) for f in columns)}) SELECT {select} FROM lock "
        # The claim's conflict only: any other (an id the sequence hands out again) fails.
        f"WHERE held ON CONFLICT ({quote(meta.get_field('claim').column)}) DO NOTHING "
        f"RETURNING {pk}) "
        f"SELECT held, (SELECT {pk} FROM claimed) FROM lock"
    )
    return [f.attname for f in columns], sql


def _failed(inbound: Inbound, fields: dict[str, Any], error: BaseException, redact: Callable):
    """Log a failure (traceback without secrets), in a transaction of its own."""
    text = redact("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    reason = redact(f"{type(error).__name__}: {error}")[:_SHORT]
    logger.error("a notification for %r failed in the site's code: %s", inbound.credential, reason)
    try:
        _create(
            inbound,
            outcome=Outcome.ERROR,
            reason=reason,
            error=text,
            finished_at=timezone.now(),
            **fields,
        )
    except Exception:
        logger.exception("could not record a failed notification for %r", inbound.credential)


def _cut(fields: dict[str, Any]) -> dict[str, Any]:
    names = ("reason", "notification_id", "reference")
    return {k: str(v)[:_SHORT] if k in names else v for k, v in fields.items()}


def _create(inbound: Inbound, **fields: Any) -> NotificationDelivery:
    fields = _cut(fields)
    fields.setdefault("body_size", inbound.size)
    return NotificationDelivery.objects.create(
        credential=inbound.credential,
        remote_addr=inbound.remote_addr,
        handler=inbound.handler,
        body=inbound.body,
        **fields,
    )
