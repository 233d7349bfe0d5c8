"""Notifications as the provider sends them to a merchant, in both documented schemes.

This is the provider's side, written independently of ``django_apiauth.signing``
so that the two implementations check each other.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import requests

from .state import Account

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


def deliver(url: str, notification: dict[str, Any], *, timeout: float = 5.0) -> requests.Response:
    """POST ``notification`` as JSON to the merchant's ``url``, as the provider does."""
    return requests.post(url, json=notification, timeout=timeout)
