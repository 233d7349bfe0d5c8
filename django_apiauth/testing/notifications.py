"""Notifications as the provider sends them to a merchant, in both documented schemes.

This is the provider's side, built with ``hashlib`` and PyJWT as the provider
does, independently of ``django_apiauth.signing``, so that the two
implementations check each other. :func:`deliver` POSTs like the provider:
JSON, and again after a non-2xx answer or a network failure.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import jwt
import requests

from .state import Account

if TYPE_CHECKING:
    from .state import SandboxState

__all__ = [
    "Delivery",
    "deliver",
    "hash_signature",
    "payment_notification",
    "send_notification",
    "tamper",
    "transfer_notification",
]

logger = logging.getLogger("django_apiauth.testing")

#: How often the provider tries one notification, and the pause before the 2nd try.
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 0.5

#: Keys covered by the hash signature, per PROVIDER.md (sorted when signing).
HASHED_KEYS = ("created_at", "error", "id", "reference", "sandbox", "status")


def hash_signature(payload: dict[str, Any], secret: str) -> str:
    """The hash scheme: sorted ``key=value`` parts joined by the secret, SHA-256, upper hex."""
    parts = [f"{key}={payload.get(key, '')}" for key in sorted(HASHED_KEYS)]
    return hashlib.sha256(secret.join(parts).encode("utf-8")).hexdigest().upper()


def payment_notification(account: Account, **fields: Any) -> dict[str, Any]:
    """A payment notification signed with the hash scheme (``fields`` override defaults)."""
    payload: dict[str, Any] = {
        "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "error": "",
        "id": f"pay_{secrets.token_hex(6)}",
        "reference": f"ORDER-{secrets.token_hex(4).upper()}",
        "sandbox": "true",
        "status": "completed",
        "metadata": {"merchant_uid": account.merchant_uid},
    }
    payload.update(fields)
    payload["signature"] = hash_signature(payload, account.signature_secret)
    return payload


def transfer_notification(
    account: Account, *, expires_in: int | None = 300, **fields: Any
) -> dict[str, str]:
    """A transfer notification: ``{"signature": <HS256 JWT of the notification>}``."""
    claims: dict[str, Any] = {
        "reference": f"ORDER-{secrets.token_hex(4).upper()}",
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "transfer_order_item_uid": f"tri_{secrets.token_hex(8)}",
        "amount_cents": 10000,
    }
    claims.update(fields)
    if expires_in is not None:
        claims["exp"] = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    return {"signature": jwt.encode(claims, account.signature_secret, algorithm="HS256")}


def tamper(notification: dict[str, Any]) -> dict[str, Any]:
    """A copy whose content no longer matches its signature."""
    forged = dict(notification)
    if "status" in forged:
        forged["status"] = "failed" if forged["status"] == "completed" else "completed"
    else:
        header, payload, signature = forged["signature"].split(".")
        # Flip one character of the signature part: still a well-formed JWT, wrong MAC.
        flipped = "A" if signature[0] != "A" else "B"
        forged["signature"] = f"{header}.{payload}.{flipped}{signature[1:]}"
    return forged


@dataclass(frozen=True)
class Delivery:
    """How a notification went: the merchant's last status (0: no answer) and tries used."""

    status: int
    attempts: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def deliver(
    url: str,
    notification: dict[str, Any],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    timeout: float = 5.0,
    session: requests.Session | None = None,
) -> Delivery:
    """POST ``notification`` as JSON to ``url``; try again (up to ``attempts`` in all)
    after a non-2xx answer or a network failure, waiting ``backoff`` seconds, doubled
    each time."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts!r}")
    sender = session or requests
    status = 0
    for attempt in range(1, attempts + 1):
        try:
            status = sender.post(url, json=notification, timeout=timeout).status_code
        except requests.RequestException as err:
            status = 0
            logger.info("notification: attempt %s failed: %s", attempt, type(err).__name__)
        if 200 <= status < 300:
            return Delivery(status, attempt)
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))
    return Delivery(status, attempts)


BUILDERS = {"hash": payment_notification, "jwt": transfer_notification}


def send_notification(
    state: SandboxState,
    url: str,
    scheme: str = "hash",
    *,
    tampered: bool = False,
    account: Account | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    **fields: Any,
) -> Delivery:
    """Sign a notification of ``account`` (the first one by default) with ``scheme``
    ("hash": payment, "jwt": transfer) and deliver it to ``url``, counting it."""
    builder = BUILDERS.get(scheme)
    if builder is None:
        raise ValueError(f"scheme must be hash or jwt, not {scheme!r}")
    notification = builder(account or state.account, **fields)
    if tampered:
        notification = tamper(notification)
    delivery = deliver(url, notification, attempts=attempts, backoff=backoff)
    state.count("notifications_sent")
    if not delivery.ok:
        state.count("notifications_failed")
    return delivery
