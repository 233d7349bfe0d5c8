"""Signature secrets kept per process, revalidated like the clients (``clients/cache.py``).

The stamp is read at most once a second; the row is loaded again when the
stamp changed, vanished or could not be read, and every minute whatever it
says. Edits made in this process are seen at once; unknown names are not kept.
"""

from __future__ import annotations

from django_apiauth import clock, stamps
from django_apiauth.exceptions import DecryptionError

__all__ = ["SignatureSecrets", "signature_secrets"]


class SignatureSecrets:
    """Name → ``(pk, stamp, secret, reason, next look, next reload)``; safe by replacement."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple] = {}
        stamps.watch(self)

    def get(self, name: str) -> tuple[str, str]:
        """``(secret, "")``, or ``("", why none)``: no active credential, no usable secret."""
        now = clock.current.monotonic()
        entry = self._entries.get(name)
        if entry is None or now >= entry[4]:
            entry = self._revalidate(name, entry, now)
        return entry[2], entry[3]

    def _revalidate(self, name: str, old: tuple | None, now: float) -> tuple:
        from django_apiauth.models import ApiCredential

        # The stamp before the row: a change committed in between shows as a newer stamp.
        stamp, answered = stamps.read_stamp(old[0]) if old else (None, False)
        if answered and old[1] is not None and stamp == old[1] and now < old[5]:
            self._entries[name] = entry = (*old[:4], now + 1, old[5])
            return entry
        row = ApiCredential.objects.filter(name=name, is_active=True).first()
        if row is None:
            self._entries.pop(name, None)
            return (None, None, "", "no active credential with that name")
        if answered and stamp is None:
            stamps.new_stamp(row.pk)  # vanished: written now, relied on from the next look
        try:
            secret, reason = row.signature_secret, "it has no signature secret"
        except DecryptionError:
            secret, reason = "", "its signature secret cannot be decrypted"
        stamp = stamp if answered and old[0] == row.pk else None  # else looked at in a second
        entry = (row.pk, stamp, secret, "" if secret else reason, now + 1, now + 60)
        self._entries[name] = entry
        return entry

    def forget(self, pks: object, names: object = ()) -> None:
        pks, names = set(pks), set(names)
        for name, entry in list(self._entries.items()):
            if entry[0] in pks or name in names:
                self._entries.pop(name, None)

    def clear(self) -> None:
        self._entries = {}


#: The cache of this process (held here: the stamps keep their watchers weakly).
signature_secrets = SignatureSecrets()
