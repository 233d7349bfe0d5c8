"""The provider's notifications, checked: :func:`check_hash` (payments), :func:`check_jwt` (JWTs).

The rules are the ones the provider's merchant plugins agree on; anything they disagree
on is refused. Error messages say what was wrong, never with what.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from django_apiauth.exceptions import SignatureError

__all__ = [
    "ALGORITHM",
    "HASHED_FIELDS",
    "SIGNATURE_PARAM",
    "check_hash",
    "check_jwt",
    "decode_notification",
    "notification_digest",
    "render_hash_value",
    "verify_notification",
]

logger = logging.getLogger("django_apiauth.signing")

#: The only algorithm, both ways: pinning it refuses ``alg: none``, HS512 and the
#: RS256-with-an-HMAC-secret confusion.
ALGORITHM = "HS256"

#: Name of the parameter (query string or body field) that carries a signature.
SIGNATURE_PARAM = "signature"

#: Keys covered by the hash scheme, in the order they are hashed; the rest
#: (``metadata``, ``additional_data``...) is not signed by the provider.
HASHED_FIELDS: tuple[str, ...] = ("created_at", "error", "id", "reference", "sandbox", "status")

#: Integers are hashed in decimal; beyond 64 bits PHP already holds them as floats,
#: which the plugins render differently from each other.
_INT64 = 2**63

#: JOSE header :func:`~django_apiauth.signing.sign` sets: such a token was signed by
#: this site (seen in browsers), never a notification.
MERCHANT_REQUEST_HEADER = "apiauth"

#: Top-level keys of the *merchant's* signed requests, refused too: tokens signed
#: before the header existed.
MERCHANT_REQUEST_KEYS = frozenset({"data", "purchase_link_settings"})


def render_hash_value(value: Any, *, php_booleans: bool = False) -> str:
    """How a hashed field's value becomes text, as the provider's plugins do it.

    Strings as they are, ``None`` as ``""``, integers in decimal, booleans ``"true"``/
    ``"false"`` or, with ``php_booleans``, ``"1"``/``""``. Anything else (floats, lists,
    objects, integers beyond 64 bits) raises ``TypeError``: the plugins disagree on it.
    """
    if isinstance(value, str):
        value.encode("utf-8")  # lone surrogates (from \\ud800 escapes) are not text
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        if php_booleans:
            return "1" if value else ""
        return "true" if value else "false"
    if isinstance(value, int) and -_INT64 <= value < _INT64:
        return str(value)
    raise TypeError(f"a {type(value).__name__} value is not hashed by the provider's plugins")


def notification_digest(
    payload: Mapping[str, Any], secret: str, *, php_booleans: bool = False
) -> str:
    """The upper-case hex SHA-256 the provider puts in a notification's ``signature``.

    Raises ``KeyError`` for a missing field, ``TypeError`` for a value that cannot be rendered.
    """
    message = secret.join(
        f"{key}={render_hash_value(payload[key], php_booleans=php_booleans)}"
        for key in HASHED_FIELDS
    )
    return hashlib.sha256(message.encode("utf-8")).hexdigest().upper()


def check_hash(payload: Mapping[str, Any], secret: str) -> dict[str, str]:
    """Verify a hash-scheme notification; return the text that was hashed, per field.

    That text (not the sender's JSON types) is what a view may trust. Raises
    ``SignatureError`` naming the problem, never a value or the secret.
    """
    if not isinstance(secret, str) or not secret:
        raise SignatureError("no signature secret to verify the notification with")
    if not isinstance(payload, Mapping):
        raise SignatureError("a hash-scheme notification must be an object")
    received = payload.get(SIGNATURE_PARAM)
    if not isinstance(received, str):
        raise SignatureError("no signature text in the notification")
    missing = [key for key in HASHED_FIELDS if key not in payload]
    if missing:
        raise SignatureError(f"hashed fields missing: {', '.join(missing)}")
    spellings = [False]
    if any(isinstance(payload[key], bool) for key in HASHED_FIELDS):
        spellings.append(True)  # PHP's "1"/"" — the other plugins' spelling
    if received != received.upper():
        # The five plugins compare the upper-case digest exactly: follow them.
        raise SignatureError("signature is not upper-case hex")
    received_bytes = received.encode("utf-8", "surrogatepass")
    for php_booleans in spellings:
        texts = {}
        for key in HASHED_FIELDS:
            try:
                texts[key] = render_hash_value(payload[key], php_booleans=php_booleans)
            except (TypeError, UnicodeEncodeError) as err:
                raise SignatureError(
                    f"hashed field {key!r} is a {type(payload[key]).__name__}: only text, "
                    "integers, booleans and null are verifiable"
                ) from err
        expected = notification_digest(texts, secret).encode("ascii")
        if hmac.compare_digest(expected, received_bytes):
            return texts
    raise SignatureError("signature does not match")


def verify_notification(payload: Mapping[str, Any], secret: str) -> bool:
    """Whether a hash-scheme notification was signed with ``secret``; never raises.

    Only :data:`HASHED_FIELDS` are authenticated. Views should use :func:`check_hash`,
    which also returns the hashed text to read instead of the sender's typed values.
    """
    try:
        check_hash(payload, secret)
    except Exception as err:
        # A verification boundary: whatever the input did, the answer is "not verified".
        if not isinstance(err, SignatureError):
            logger.debug("notification hash not verifiable: %s", type(err).__name__)
        return False
    return True


@dataclass(frozen=True)
class VerifiedToken:
    """A verified JWT-scheme notification: its claims and ``identity``, ``jti:<jti>`` else
    ``mac:<sha256>`` of the decoded signature (base64url's spare bits cannot fake a new one)."""

    payload: dict[str, Any]
    identity: str


#: What each PyJWT refusal means, most specific first (DecodeError is the base of some).
_JWT_REFUSALS = (
    (jwt.ExpiredSignatureError, "notification token has expired"),
    (jwt.ImmatureSignatureError, "notification token is not valid yet (nbf/iat in the future)"),
    (jwt.InvalidSignatureError, "notification token signature does not match the secret"),
    (jwt.InvalidAlgorithmError, f"notification token is not signed with {ALGORITHM}"),
    (jwt.DecodeError, "notification is not a well-formed JWT"),
)


def check_jwt(
    token: str, secret: str, *, leeway: float | timedelta | None = None, check_times: bool = True
) -> VerifiedToken:
    """Verify a JWT-scheme notification as provider-side decoders (php-jwt) do.

    HS256 only; ``exp``/``nbf``/``iat`` with ``leeway`` (default ``NOTIFICATION_LEEWAY``),
    skipped with ``check_times=False`` (processing again). A token this site signed is
    refused. Raises ``SignatureError``, with a message that never contains the token.
    """
    if not isinstance(token, str):
        raise SignatureError(f"notification token must be a string, not {type(token).__name__}")
    if not isinstance(secret, str) or not secret:
        # An empty HMAC key would accept tokens anyone can make.
        raise SignatureError("no signature secret to verify the notification with")
    if leeway is None:
        from django_apiauth.conf import api_settings

        leeway = api_settings.validated("NOTIFICATION_LEEWAY")
    try:
        decoded = jwt.decode_complete(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=leeway,
            options={
                "verify_aud": False,
                "verify_sub": False,
                "verify_jti": False,
                "verify_exp": check_times,
                "verify_nbf": check_times,
                "verify_iat": check_times,
            },
        )
    except Exception as err:
        # PyJWT's other refusals, and the few exotic inputs it lets through as
        # ValueError/TypeError: the contract is SignatureError on any failure.
        reason = next((text for kind, text in _JWT_REFUSALS if isinstance(err, kind)), None)
        raise SignatureError(
            reason or f"notification token rejected ({type(err).__name__})"
        ) from err
    payload = decoded["payload"]  # a dict: PyJWT refuses any other JSON value
    if MERCHANT_REQUEST_HEADER in decoded["header"]:
        raise SignatureError("token was signed by this site (a request), not by the provider")
    if MERCHANT_REQUEST_KEYS & payload.keys():
        raise SignatureError(
            "token has the shape of a merchant's signed request ('data' wrapper), "
            "not of a notification"
        )
    jti = payload.get("jti")
    if jti not in (None, ""):
        identity = "jti:" + (jti if isinstance(jti, str) else json.dumps(jti, sort_keys=True))
    else:
        identity = "mac:" + hashlib.sha256(decoded["signature"]).hexdigest()
    return VerifiedToken(payload=payload, identity=identity)


def decode_notification(
    token: str, secret: str, *, leeway: float | timedelta | None = None
) -> dict[str, Any]:
    """Verify a JWT-scheme notification (see :func:`check_jwt`) and return its payload.

    Raises ``SignatureError`` on any failure, with a message that never contains the token.
    """
    return check_jwt(token, secret, leeway=leeway).payload
