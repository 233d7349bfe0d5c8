"""The provider's "signature" method, outgoing: HS256 JWTs of the merchant's parameters.

The incoming checks live in :mod:`django_apiauth.notifications.verify`;
:func:`verify_notification`, :func:`decode_notification` and :func:`notification_digest`
are importable from here too, where earlier releases had them. Nothing here logs or
echoes a secret, a token or a payload.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

import jwt

from django_apiauth.exceptions import ConfigurationError, SignatureError
from django_apiauth.notifications.verify import (
    ALGORITHM,
    MERCHANT_REQUEST_HEADER,
    SIGNATURE_PARAM,
    decode_notification,
    notification_digest,
    verify_notification,
)

__all__ = [
    "decode_notification",
    "notification_digest",
    "sign",
    "signed_query",
    "signed_url",
    "verify_notification",
]


class _StrictJSONEncoder(json.JSONEncoder):
    """JSON as the RFC has it: NaN and Infinity are refused, not written as bare words."""

    def __init__(self, **kwargs: Any) -> None:
        # json.dumps passes allow_nan=True explicitly; override it here.
        kwargs["allow_nan"] = False
        super().__init__(**kwargs)


def sign(
    payload: Mapping[str, Any], secret: str, *, expires_in: float | timedelta | None = None
) -> str:
    """Return an HS256 JWT of ``payload`` (parameters under ``data``) signed with ``secret``.

    ``iat`` (now) is added unless present; ``expires_in`` (seconds or a ``timedelta``)
    sets ``exp``, which the payload may carry instead, but not both. Raises
    ``ConfigurationError`` for an empty secret and ``SignatureError`` for a payload that
    cannot become a valid JWT (not a mapping, not JSON, malformed registered claims).
    """
    _check_signing_secret(secret)
    if not isinstance(payload, Mapping):
        raise SignatureError(
            f"cannot sign a {type(payload).__name__}: the payload must be a mapping "
            "(put the parameters under 'data')"
        )
    claims = dict(payload)
    if any(not isinstance(key, str) for key in claims):
        raise SignatureError("cannot sign: every top-level key of the payload must be a string")
    now = int(time.time())
    if expires_in is not None:
        if "exp" in claims:
            raise SignatureError("cannot sign: the payload has an 'exp' and expires_in was given")
        claims["exp"] = now + _positive_seconds(expires_in)
    claims.setdefault("iat", now)
    _check_registered_claims(claims)
    try:
        return jwt.encode(
            claims,
            secret,
            algorithm=ALGORITHM,
            headers={MERCHANT_REQUEST_HEADER: "request"},  # never accepted as a notification
            json_encoder=_StrictJSONEncoder,
        )
    except (TypeError, ValueError, OverflowError, RecursionError) as err:
        # json.dumps refusing a value (a Decimal, a datetime under 'data', NaN,
        # a reference cycle) lands here.
        raise SignatureError(
            f"cannot sign: the payload is not JSON-serialisable ({type(err).__name__})"
        ) from err


def signed_query(
    payload: Mapping[str, Any], secret: str, *, expires_in: float | timedelta | None = None
) -> dict[str, str]:
    """``{"signature": <jwt>}``, ready for ``requests``' ``params=``."""
    return {SIGNATURE_PARAM: sign(payload, secret, expires_in=expires_in)}


def signed_url(
    url: str,
    payload: Mapping[str, Any],
    secret: str,
    *,
    expires_in: float | timedelta | None = None,
) -> str:
    """``url`` with ``signature=<jwt>`` in its query string (replacing any; others kept as is)."""
    token = sign(payload, secret, expires_in=expires_in)
    parts = urlsplit(url)
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and unquote_plus(pair.split("=", 1)[0]) != SIGNATURE_PARAM
    ]
    kept.append(f"{SIGNATURE_PARAM}={quote(token, safe='')}")
    return urlunsplit(parts._replace(query="&".join(kept)))


def _check_signing_secret(secret: object) -> None:
    if not isinstance(secret, str) or not secret:
        raise ConfigurationError(
            "no signature secret: set the credential's signature_secret to sign requests"
        )
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError("the signature secret is not valid text (UTF-8)") from None


def _positive_seconds(expires_in: float | timedelta) -> int:
    if isinstance(expires_in, timedelta):
        seconds = expires_in.total_seconds()
    elif isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
        seconds = float(expires_in)
    else:
        raise SignatureError(
            f"expires_in must be a number of seconds or a timedelta, "
            f"not {type(expires_in).__name__}"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise SignatureError("expires_in must be a positive, finite duration")
    # JWT NumericDate; rounding up keeps a sub-second validity from being zero.
    return math.ceil(seconds)


def _check_registered_claims(claims: dict[str, Any]) -> None:
    # PyJWT would sign these happily, but the token would then fail every
    # verifier (PyJWT's own included): refuse at the source, with a clear reason.
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if name not in claims or isinstance(value, datetime):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SignatureError(f"cannot sign: '{name}' must be a number or a datetime")
        if not math.isfinite(value):
            raise SignatureError(f"cannot sign: '{name}' must be finite")
    for name in ("iss", "sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise SignatureError(f"cannot sign: '{name}' must be a string")
    aud = claims.get("aud", "")
    if not (
        isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))
    ):
        raise SignatureError("cannot sign: 'aud' must be a string or a list of strings")
