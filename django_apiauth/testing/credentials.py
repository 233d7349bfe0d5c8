"""Reading credentials out of an ``Authorization`` header, strictly (RFC 7617 / RFC 6750)."""

from __future__ import annotations

import base64
import binascii

__all__ = ["auth_scheme", "parse_basic", "parse_bearer"]


def parse_basic(header: str) -> tuple[str, str] | None:
    """``(user, password)`` from ``Basic <base64>``, or ``None`` when malformed."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    if not colon:
        return None
    return user, password


def parse_bearer(header: str) -> str | None:
    """The token from ``Bearer <token>``, or ``None``."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def auth_scheme(header: str) -> str:
    """``"basic"``, ``"bearer"``, ``""`` (no header) or ``"other"`` — for the request log."""
    if not header:
        return ""
    scheme = header.partition(" ")[0].lower()
    return scheme if scheme in ("basic", "bearer") else "other"
