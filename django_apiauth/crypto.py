"""The key ring: Fernet encryption of secrets at rest.

* ``ENCRYPTION_KEYS`` (or ``$APIAUTH_ENCRYPTION_KEYS``) lists Fernet keys; the
  first encrypts, all decrypt. Without any, keys are derived from
  ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` so rotating ``SECRET_KEY`` loses
  nothing (a system check warns that a dedicated key is better).
* Every *context* (a model column such as ``django_apiauth.apicredential.api_secret``)
  gets its own sub-key derived with HKDF, so a ciphertext copied into another
  column fails loudly instead of decrypting.
* Stored values look like ``v1:<key id>:<fernet token>``. The key id is a short
  hash of the ring key; it lets decryption pick the right key directly and lets
  rotation count rows per key and spot plaintext rows.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.encoding import force_bytes

from .conf import api_settings
from .exceptions import ConfigurationError, DecryptionError

VERSION = "v1"
DEFAULT_CONTEXT = "django_apiauth.default"
PREFIX = VERSION + ":"


def generate_key() -> str:
    """A new random Fernet key, as text for ``APIAUTH_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode("ascii")


def _hkdf(material: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(
        material
    )


def _key_id(raw: bytes) -> str:
    # A hash of a 256-bit random key reveals nothing useful; 8 hex chars are
    # plenty to tell a handful of ring keys apart in reports.
    return hashlib.sha256(b"django-apiauth key id:" + raw).hexdigest()[:8]


@dataclass(frozen=True)
class RingKey:
    key_id: str
    raw: bytes = field(repr=False)  # 32 bytes: Fernet's signing + encryption keys
    derived_from_secret_key: bool = False

    def fernet(self, context: str) -> Fernet:
        sub_key = _hkdf(self.raw, f"django-apiauth:{VERSION}:{context}")
        return Fernet(base64.urlsafe_b64encode(sub_key))


@dataclass
class KeyRing:
    keys: list[RingKey]
    _fernets: dict[tuple[str, str], Fernet] = field(default_factory=dict, repr=False)
    _mac_keys: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def primary(self) -> RingKey:
        return self.keys[0]

    @property
    def key_ids(self) -> list[str]:
        return [key.key_id for key in self.keys]

    def fernet(self, key_id: str, context: str) -> Fernet | None:
        cached = self._fernets.get((key_id, context))
        if cached is None:
            key = next((k for k in self.keys if k.key_id == key_id), None)
            if key is None:
                return None
            # Sub-key derivation costs an HKDF; do it once per (key, column).
            cached = self._fernets[(key_id, context)] = key.fernet(context)
        return cached

    def mac(self, purpose: str, message: bytes) -> str:
        """HMAC-SHA256 (hex) of ``message`` under the primary key's sub-key for ``purpose``.

        For identifiers that must not reveal what they identify (a cache key
        derived from a secret, say): each purpose gets its own HKDF sub-key, so
        a MAC made for one purpose says nothing about another, and the ring's
        raw key bytes never leave this module.
        """
        key = self._mac_keys.get(purpose)
        if key is None:
            # The info string predates this method; keeping it keeps existing MACs.
            key = self._mac_keys[purpose] = _hkdf(self.primary.raw, f"django-apiauth:{purpose}")
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def encrypt(self, text: str, context: str = DEFAULT_CONTEXT) -> str:
        token = self.fernet(self.primary.key_id, context).encrypt(text.encode("utf-8"))
        return f"{PREFIX}{self.primary.key_id}:{token.decode('ascii')}"

    def decrypt(self, value: str, context: str = DEFAULT_CONTEXT) -> str:
        key_id, token = parse(value)
        fernet = self.fernet(key_id, context)
        if fernet is None:
            raise DecryptionError(
                f"value was encrypted with key id {key_id}, which is not in the key ring "
                f"(ring: {', '.join(self.key_ids)})"
            )
        try:
            return fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as err:
            raise DecryptionError(
                f"value under key id {key_id} does not decrypt for {context}: it was "
                "tampered with, truncated, or copied from another column"
            ) from err

    def rotate(self, value: str, context: str = DEFAULT_CONTEXT) -> str:
        """Re-encrypt ``value`` under the primary key, keeping Fernet's timestamp."""
        key_id, token = parse(value)
        source = self.fernet(key_id, context)
        if source is None:
            raise DecryptionError(f"value was encrypted with key id {key_id}, not in the key ring")
        primary = self.fernet(self.primary.key_id, context)
        try:
            rotated = MultiFernet([primary, source]).rotate(token.encode("ascii"))
        except InvalidToken as err:
            raise DecryptionError(
                f"value under key id {key_id} does not decrypt for {context}"
            ) from err
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


def build_key_ring() -> KeyRing:
    """Build the ring from settings, without caching (use ``get_key_ring``)."""
    configured = api_settings.ENCRYPTION_KEYS
    if configured:
        keys = []
        for index, text in enumerate(configured):
            raw = _decode_key(text, index)
            keys.append(RingKey(_key_id(raw), raw))
        return KeyRing(keys)
    secrets = [django_settings.SECRET_KEY, *getattr(django_settings, "SECRET_KEY_FALLBACKS", [])]
    secrets = [s for s in secrets if s]
    if not secrets:
        raise ConfigurationError(
            "no encryption key: set APIAUTH['ENCRYPTION_KEYS'] or $APIAUTH_ENCRYPTION_KEYS "
            "(or at least SECRET_KEY)"
        )
    keys = []
    for secret in secrets:
        raw = _hkdf(force_bytes(secret), "django-apiauth:secret-key-derived")
        keys.append(RingKey(_key_id(raw), raw, derived_from_secret_key=True))
    return KeyRing(keys)


@functools.cache
def get_key_ring() -> KeyRing:
    """The process-wide key ring, rebuilt when the settings it depends on change."""
    return build_key_ring()


@receiver(setting_changed)
def _reset_key_ring(*, setting: str, **kwargs: object) -> None:
    if setting in {"APIAUTH", "SECRET_KEY", "SECRET_KEY_FALLBACKS"}:
        get_key_ring.cache_clear()


def encrypt(text: str, *, context: str = DEFAULT_CONTEXT) -> str:
    """Encrypt ``text`` with the primary key of the ring."""
    return get_key_ring().encrypt(text, context)


def decrypt(token: str, *, context: str = DEFAULT_CONTEXT) -> str:
    """Decrypt a value made by :func:`encrypt`; raises ``DecryptionError``."""
    return get_key_ring().decrypt(token, context)
