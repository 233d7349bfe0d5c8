"""The provider's "signature" method: HS256 JWTs out, notification checks in.

Outgoing: :func:`sign` turns a mapping (parameters under ``data``, plus any
top-level keys an endpoint wants, such as ``purchase_link_settings``) into an
HS256 JWT; :func:`signed_query` and :func:`signed_url` put it where endpoints
expect it (``?signature=<jwt>``).

Incoming, the provider uses two schemes keyed by the same shared secret:

* :func:`verify_notification` — the *hash* scheme of payment notifications;
* :func:`decode_notification` — the *JWT* scheme of transfer notifications.

All JWT work is PyJWT's. Nothing here logs or echoes a secret, a token or a
payload: error messages say what was wrong, never with what.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

import jwt

from .exceptions import ConfigurationError, SignatureError

logger = logging.getLogger(__name__)

#: The only algorithm accepted, both ways. Pinning it is what refuses ``alg: none``,
#: HS512 and the RS256-with-an-HMAC-secret confusion.
ALGORITHM = "HS256"

#: Name of the parameter (query string or body field) that carries a signature.
SIGNATURE_PARAM = "signature"

#: Keys covered by the hash scheme, in the (alphabetical) order they are hashed.
#: Everything else in a notification (``metadata``, ``additional_data``, ...) is
#: not signed by the provider.
HASHED_FIELDS: tuple[str, ...] = ("created_at", "error", "id", "reference", "sandbox", "status")

_TIME_CLAIMS = ("exp", "iat", "nbf")


class _StrictJSONEncoder(json.JSONEncoder):
    """JSON as the RFC has it: NaN and Infinity are refused, not written as bare words."""

    def __init__(self, **kwargs: Any) -> None:
        # json.dumps passes allow_nan=True explicitly; override it here.
        kwargs["allow_nan"] = False
        super().__init__(**kwargs)


_STRING_CLAIMS = ("iss", "sub", "jti")


# --------------------------------------------------------------------------- sign


def sign(
    payload: Mapping[str, Any],
    secret: str,
    *,
    expires_in: float | timedelta | None = None,
) -> str:
    """Return an HS256 JWT of ``payload`` signed with ``secret``.

    ``payload`` is used as given: put the endpoint's parameters under ``data``
    and any other top-level keys next to it. An ``iat`` (now) is added unless
    the payload has one; ``expires_in`` (seconds or a ``timedelta``) sets
    ``exp``. A payload may carry its own ``exp`` instead, but not both.

    Raises ``ConfigurationError`` when ``secret`` is empty (a credential without
    a signature secret) and ``SignatureError`` when the payload cannot become a
    valid JWT (not a mapping, not JSON-serialisable, malformed registered claims).
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
        return jwt.encode(claims, secret, algorithm=ALGORITHM, json_encoder=_StrictJSONEncoder)
    except (TypeError, ValueError, OverflowError, RecursionError) as err:
        # json.dumps refusing a value (a Decimal, a datetime under 'data', NaN,
        # a reference cycle) lands here.
        raise SignatureError(
            f"cannot sign: the payload is not JSON-serialisable ({type(err).__name__})"
        ) from err


def signed_query(
    payload: Mapping[str, Any],
    secret: str,
    *,
    expires_in: float | timedelta | None = None,
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
    """``url`` with ``signature=<jwt>`` in its query string.

    Other query parameters are kept byte for byte (not re-encoded); an existing
    ``signature`` parameter is replaced, so re-signing a URL is safe.
    """
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
    for name in _TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, datetime):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SignatureError(f"cannot sign: '{name}' must be a number or a datetime")
        if not math.isfinite(value):
            raise SignatureError(f"cannot sign: '{name}' must be finite")
    for name in _STRING_CLAIMS:
        if name in claims and not isinstance(claims[name], str):
            raise SignatureError(f"cannot sign: '{name}' must be a string")
    if "aud" in claims:
        aud = claims["aud"]
        if not (
            isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))
        ):
            raise SignatureError("cannot sign: 'aud' must be a string or a list of strings")


# --------------------------------------------------------------- notifications
#
# The provider's merchant plugins (Sylius, OroCommerce, WooCommerce, Magento,
# PrestaShop) are the reference for what a genuine notification looks like; the
# rules below are the ones they agree on, and anything they disagree on is refused.

#: Integers are hashed in decimal; beyond 64 bits PHP already holds them as floats,
#: which the plugins render differently from each other.
_INT64 = 2**63

#: Top-level keys of the *merchant's* signed requests (:func:`sign`); the provider's
#: notifications are flat, so a token with one of these is never a notification.
MERCHANT_REQUEST_KEYS = frozenset({"data", "purchase_link_settings"})


def render_hash_value(value: Any, *, php_booleans: bool = False) -> str:
    """How a hashed field's value becomes text, as the provider's plugins do it.

    Strings as they are; ``None`` is the empty string; integers in decimal;
    booleans ``"true"``/``"false"`` (Sylius, OroCommerce) or, with
    ``php_booleans``, PHP's ``"1"``/``""`` (the other plugins). Floats, lists,
    objects and integers beyond 64 bits raise ``TypeError``: the plugins
    disagree on them, so such a notification is refused.
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

    Raises ``KeyError`` for a missing field and ``TypeError`` for a value that
    cannot be rendered. Exposed for tests and for senders (the sandbox).
    """
    message = secret.join(
        f"{key}={render_hash_value(payload[key], php_booleans=php_booleans)}"
        for key in HASHED_FIELDS
    )
    return hashlib.sha256(message.encode("utf-8")).hexdigest().upper()


def check_hash_notification(payload: Mapping[str, Any], secret: str) -> dict[str, str]:
    """Verify a hash-scheme notification; return the text that was hashed, per field.

    The returned mapping is what a view may trust: ``{"sandbox": "true"}`` for a
    JSON ``true`` hashed as ``true``, ``"1"`` if it was hashed PHP-style — never
    the sender's JSON type, so re-typing a value cannot change what the site reads.
    Raises ``SignatureError`` naming the problem (never a value or the secret).
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
    received_bytes = received.upper().encode("utf-8", "surrogatepass")
    for php_booleans in spellings:
        try:
            texts = {
                key: render_hash_value(payload[key], php_booleans=php_booleans)
                for key in HASHED_FIELDS
            }
        except (TypeError, UnicodeEncodeError) as err:
            bad = next(key for key in HASHED_FIELDS if not _renders(payload[key]))
            raise SignatureError(
                f"hashed field {bad!r} is a {type(payload[bad]).__name__}: only text, "
                "integers, booleans and null are verifiable"
            ) from err
        expected = notification_digest(texts, secret).encode("ascii")
        if hmac.compare_digest(expected, received_bytes):
            return texts
    raise SignatureError("signature does not match")


def _renders(value: Any) -> bool:
    try:
        render_hash_value(value)
    except (TypeError, UnicodeEncodeError):
        return False
    return True


def verify_notification(payload: Mapping[str, Any], secret: str) -> bool:
    """Whether a hash-scheme notification was signed with ``secret``.

    Exactly :data:`HASHED_FIELDS` are hashed (see :func:`render_hash_value`);
    other keys (``metadata``, ``additional_data``...) are *not* authenticated.
    The hex comparison is case-insensitive and constant-time. Never raises.
    Views should use :func:`check_hash_notification`, which also returns the
    hashed text to read instead of the sender's typed values.
    """
    try:
        check_hash_notification(payload, secret)
    except SignatureError:
        return False
    except Exception as err:
        # A verification boundary: whatever the input did, the answer is "not verified".
        logger.debug("notification hash not verifiable: %s", type(err).__name__)
        return False
    return True


@dataclass(frozen=True)
class VerifiedToken:
    """A verified JWT-scheme notification: its claims and a stable identity.

    ``identity`` is ``jti:<jti>`` when the token has one, else ``mac:<sha256>``
    of the decoded signature bytes — the same for every re-encoding of the same
    token (base64url's spare bits cannot make a redelivery look new).
    """

    payload: dict[str, Any]
    identity: str


def check_jwt_notification(
    token: str,
    secret: str,
    *,
    leeway: float | timedelta | None = None,
    check_times: bool = True,
) -> VerifiedToken:
    """Verify a JWT-scheme notification as provider-side decoders do.

    HS256 only; ``exp``/``nbf``/``iat`` honoured with ``leeway`` seconds of clock
    skew (default: ``APIAUTH["NOTIFICATION_LEEWAY"]``, 60 s); an ``aud`` claim and
    non-string ``sub``/``jti`` are accepted, as php-jwt does. A token shaped like
    the merchant's own signed requests (a ``data`` wrapper) is refused: those
    travel through browsers and must never count as the provider's word.
    ``check_times=False`` skips ``exp``/``nbf``/``iat``: for processing again a
    delivery that was verified on time but failed in the site's code.
    Raises ``SignatureError``, with a message that never contains the token.
    """
    if not isinstance(token, str):
        raise SignatureError(f"notification token must be a string, not {type(token).__name__}")
    if not isinstance(secret, str) or not secret:
        # An empty HMAC key would accept tokens anyone can make.
        raise SignatureError("no signature secret to verify the notification with")
    if leeway is None:
        from .conf import api_settings

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
    except jwt.ExpiredSignatureError as err:
        raise SignatureError("notification token has expired") from err
    except jwt.ImmatureSignatureError as err:
        raise SignatureError("notification token is not valid yet (nbf/iat in the future)") from err
    except jwt.InvalidSignatureError as err:
        raise SignatureError("notification token signature does not match the secret") from err
    except jwt.InvalidAlgorithmError as err:
        raise SignatureError(f"notification token is not signed with {ALGORITHM}") from err
    except jwt.DecodeError as err:
        raise SignatureError("notification is not a well-formed JWT") from err
    except Exception as err:
        # PyJWT's other refusals, and the few exotic inputs it lets through as
        # ValueError/TypeError: the contract is SignatureError on any failure.
        raise SignatureError(f"notification token rejected ({type(err).__name__})") from err
    payload = decoded["payload"]
    if not isinstance(payload, dict):  # pragma: no cover - PyJWT guarantees an object
        raise SignatureError("notification token payload is not a JSON object")
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
    """Verify a JWT-scheme notification and return its payload.

    See :func:`check_jwt_notification` for the rules. Raises ``SignatureError``
    on any failure — wrong secret, expired, malformed, merchant-shaped, not a
    string, empty secret — with a message that never contains the token.
    """
    return check_jwt_notification(token, secret, leeway=leeway).payload
