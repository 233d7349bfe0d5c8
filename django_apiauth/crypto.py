"""The key ring: Fernet encryption of secrets at rest, as ``v1:<key id>:<fernet token>``.

``ENCRYPTION_KEYS`` (or ``$APIAUTH_ENCRYPTION_KEYS``): the first key encrypts, all decrypt;
the keys derived from ``SECRET_KEY`` and its fallbacks always follow. A sub-key per column
and, for a bound value, per binding (row and endpoint): a ciphertext copied elsewhere
fails loudly. The design: ``docs/credentials.md``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import struct
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.encoding import force_bytes

from django_apiauth.conf import api_settings
from django_apiauth.exceptions import ConfigurationError, DecryptionError

__all__ = [
    "PREFIX",
    "KeyRing",
    "build_key_ring",
    "decrypt",
    "encrypt",
    "generate_key",
    "get_key_ring",
    "looks_encrypted",
    "parse",
]

VERSION = "v1"
DEFAULT_CONTEXT = "django_apiauth.default"
PREFIX = VERSION + ":"
_SHA256 = hashes.SHA256()  # stateless: one instance serves every derivation


def generate_key() -> str:
    """A new random Fernet key, as text for ``APIAUTH_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode("ascii")


def _hkdf_extract(material: bytes) -> bytes:
    """HKDF's extract step with no salt (RFC 5869: a salt of zeros).

    It depends on the key only, so a ring key does it once; each sub-key then
    costs HKDF's expand step alone, and equals one full HKDF call byte for byte
    (a test holds them equal): every stored value still decrypts.
    """
    return hmac.digest(b"\0" * 32, material, "sha256")


def _hkdf_expand(prk: bytes, info: str) -> bytes:
    return HKDFExpand(algorithm=_SHA256, length=32, info=info.encode()).derive(prk)


def _fernet_timestamp(token: str) -> int:
    """The issue time in a Fernet token that has just been decrypted (so verified).

    ``Fernet.extract_timestamp`` would verify its HMAC a second time. The
    layout is Fernet's spec: a version byte, then the time as 8 bytes big-endian.
    """
    # 12 base64 characters are the first 9 bytes: no need to decode the whole token.
    return struct.unpack(">Q", base64.urlsafe_b64decode(token[:12])[1:9])[0]


def _key_id(raw: bytes) -> str:
    # A hash of a 256-bit random key reveals nothing useful; 8 hex chars are
    # plenty to tell a handful of ring keys apart in reports.
    return hashlib.sha256(b"django-apiauth key id:" + raw).hexdigest()[:8]


@dataclass(frozen=True)
class RingKey:
    key_id: str
    raw: bytes = field(repr=False)  # 32 bytes: Fernet's signing + encryption keys
    derived_from_secret_key: bool = False
    #: Derived from a ``SECRET_KEY_FALLBACKS`` entry: gone once the fallback is removed.
    derived_from_fallback: bool = False

    def fernet(self, info: str) -> Fernet:
        return Fernet(base64.urlsafe_b64encode(_hkdf_expand(self.prk, info)))

    @functools.cached_property
    def prk(self) -> bytes:  # HKDF's pseudorandom key: see _hkdf_extract
        return _hkdf_extract(self.raw)


def _kdf_info(context: str, binding: str | None) -> str:
    if binding is None:
        return f"django-apiauth:{VERSION}:{context}"
    # NUL cannot occur in a column label and separates the two unambiguously.
    return f"django-apiauth:{VERSION}:bound:{context}\x00{binding}"


@dataclass
class KeyRing:
    keys: list[RingKey]
    _fernets: dict[tuple[str, str], Fernet] = field(default_factory=dict, repr=False)
    _mac_keys: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def primary(self) -> RingKey:
        return self.keys[0]

    def key(self, key_id: str) -> RingKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def fernet(self, key_id: str, context: str, binding: str | None = None) -> Fernet | None:
        key = self.key(key_id)
        if key is None or binding is not None:
            # A bound sub-key serves one row: a cache of them never hit (31 % of key rotation).
            return key and key.fernet(_kdf_info(context, binding))
        cached = self._fernets.get((key_id, context))
        if cached is None:  # a column's own sub-key: a handful per ring, kept
            cached = self._fernets[(key_id, context)] = key.fernet(_kdf_info(context, None))
        return cached

    def mac(self, purpose: str, message: bytes) -> str:
        """HMAC-SHA256 (hex) of ``message`` under the primary key's sub-key for ``purpose``.

        For identifiers that must not reveal what they identify (a cache key
        derived from a secret): one HKDF sub-key per purpose, and the ring's raw
        key bytes never leave this module.
        """
        if purpose not in self._mac_keys:
            # The info string predates this method; keeping it keeps existing MACs.
            self._mac_keys[purpose] = _hkdf_expand(self.primary.prk, f"django-apiauth:{purpose}")
        return hmac.new(self._mac_keys[purpose], message, hashlib.sha256).hexdigest()

    def encrypt(self, text: str, context: str = DEFAULT_CONTEXT, binding: str | None = None) -> str:
        """Ciphertext of ``text`` for ``context`` (and ``binding``, when given)."""
        token = self.fernet(self.primary.key_id, context, binding).encrypt(text.encode("utf-8"))
        return f"{PREFIX}{self.primary.key_id}:{token.decode('ascii')}"

    def decrypt(
        self, value: str, context: str = DEFAULT_CONTEXT, binding: str | None = None
    ) -> str:
        """Decrypt ``value``; a bound one only with the ``binding`` it was made for."""
        return self.open(value, context, binding)[0]

    def open(self, value: str, context: str, binding: str | None = None) -> tuple[str, bool]:
        """``(plaintext, is_legacy)``: ``is_legacy`` when a binding was given but not used.

        Raises ``DecryptionError`` naming the cause, never the value.
        """
        key_id, _, _, legacy, plain = self._source(value, context, binding)
        try:
            return plain.decode("utf-8"), legacy
        except UnicodeError as err:
            raise DecryptionError(f"value under key id {key_id} is not UTF-8 text") from err

    def _source(self, value: str, context: str, binding: str | None):
        """How ``value`` decrypts: ``(key id, token, fernet, is_legacy, plaintext bytes)``."""
        key_id, token = parse(value)
        candidates = ((binding, False), (None, True)) if binding is not None else ((None, False),)
        for candidate, legacy in candidates:
            fernet = self.fernet(key_id, context, candidate)
            if fernet is None:
                raise DecryptionError(
                    f"value was encrypted with key id {key_id}, which is not in the key ring "
                    f"(ring: {', '.join(k.key_id for k in self.keys)})"
                )
            try:
                plain = fernet.decrypt(token.encode("ascii"))
            except InvalidToken:
                continue
            return key_id, token, fernet, legacy, plain
        target = "this row and endpoint of " if binding is not None else ""
        raise DecryptionError(
            f"value under key id {key_id} does not decrypt for {target}{context}: it was "
            "tampered with, truncated, copied from another column or row, or its row now "
            "points at another endpoint (then enter the secret again for the new endpoint)"
        )

    def rotate(self, value: str, context: str = DEFAULT_CONTEXT, binding: str | None = None) -> str:
        """Re-encrypt ``value`` under the primary key, keeping Fernet's timestamp.

        With ``binding``, the result is bound whatever ``value`` was: this is
        how legacy values (written before binding existed) get bound.
        """
        _, token, _, _, plain = self._source(value, context, binding)
        primary = self.fernet(self.primary.key_id, context, binding)
        # What MultiFernet.rotate does, minus its second decryption (_source did one)
        # and the second HMAC check its timestamp read would make.
        issued_at = _fernet_timestamp(token)
        rotated = primary.encrypt_at_time(plain, issued_at)
        return f"{PREFIX}{self.primary.key_id}:{rotated.decode('ascii')}"


def looks_encrypted(value: str) -> bool:
    """Whether ``value`` claims to be a ciphertext (it may still be truncated or tampered)."""
    return value.startswith(PREFIX)


def parse(value: str) -> tuple[str, str]:
    """Split a stored value into ``(key id, fernet token)``, or raise ``DecryptionError``."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        raise DecryptionError(
            "value is not a django-apiauth ciphertext (a plaintext legacy value? "
            "run manage.py apiauth_rotate_keys to encrypt it)"
        )
    _, key_id, token = [*value.split(":", 2), "", ""][:3]
    if len(key_id) != 8 or not token:
        raise DecryptionError("value is a truncated or malformed django-apiauth ciphertext")
    return key_id, token


def _decode_key(text: str, index: int) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeError):
        raw = b""
    if len(raw) != 32:
        # Never echo the key itself: say which one and what a good one looks like.
        raise ConfigurationError(
            f"APIAUTH ENCRYPTION_KEYS[{index}] is not a Fernet key (44 url-safe base64 "
            "characters); create one with: manage.py apiauth_generate_key"
        )
    return raw


def _secret_key_derived_keys() -> list[RingKey]:
    keys = []
    fallbacks = getattr(django_settings, "SECRET_KEY_FALLBACKS", None) or []
    for index, secret in enumerate([getattr(django_settings, "SECRET_KEY", ""), *fallbacks]):
        if not secret:
            continue
        raw = _hkdf_expand(_hkdf_extract(force_bytes(secret)), "django-apiauth:secret-key-derived")
        if any(k.raw == raw for k in keys):
            continue
        keys.append(RingKey(_key_id(raw), raw, True, derived_from_fallback=index > 0))
    return keys


def build_key_ring() -> KeyRing:
    """The ring the settings describe (module docstring), not cached: see ``get_key_ring``."""
    raws = [_decode_key(text, index) for index, text in enumerate(api_settings.ENCRYPTION_KEYS)]
    keys = [RingKey(_key_id(raw), raw) for raw in raws]
    keys.extend(k for k in _secret_key_derived_keys() if k.key_id not in {d.key_id for d in keys})
    if not keys:
        raise ConfigurationError(
            "no encryption key: set APIAUTH['ENCRYPTION_KEYS'] or $APIAUTH_ENCRYPTION_KEYS "
            "(or at least SECRET_KEY)"
        )
    return KeyRing(keys)


@functools.cache
def get_key_ring() -> KeyRing:
    """The process-wide key ring, rebuilt when the settings it depends on change."""
    return build_key_ring()


@receiver(setting_changed)
def _reset_key_ring(*, setting: str, **kwargs: object) -> None:
    if setting in {"APIAUTH", "SECRET_KEY", "SECRET_KEY_FALLBACKS"}:
        get_key_ring.cache_clear()


def encrypt(text: str, *, context: str = DEFAULT_CONTEXT, binding: str | None = None) -> str:
    """Encrypt ``text`` with the primary key of the ring (bound to ``binding`` if given)."""
    return get_key_ring().encrypt(text, context, binding)


def decrypt(token: str, *, context: str = DEFAULT_CONTEXT, binding: str | None = None) -> str:
    """Decrypt a value made by :func:`encrypt`; raises ``DecryptionError``."""
    return get_key_ring().decrypt(token, context, binding)
