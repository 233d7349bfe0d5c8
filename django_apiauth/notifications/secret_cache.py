"""Signature secrets per process, revalidated by the credential stamps like ``clients/cache.py``.

Stamp read once a second; the row reloaded when it changed, vanished, is unreadable, each minute.
"""

from django_apiauth import clock, stamps
from django_apiauth.exceptions import DecryptionError

__all__ = ["signature_secrets"]


class SignatureSecrets:
    """Name → ``(pk, stamp, secret, reason, next look, next reload)``; safe by replacement."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple] = {}
        self.clear = self._entries.clear
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
            secret = row.signature_secret
            reason = "" if secret else "it has no signature secret"
        except DecryptionError:
            secret, reason = "", "its signature secret cannot be decrypted"
        stamp = stamp if answered and old[0] == row.pk else None  # else looked at in a second
        self._entries[name] = entry = (row.pk, stamp, secret, reason, now + 1, now + 60)
        return entry

    def forget(self, pks: object, names: object = ()) -> None:
        for name in [n for n, entry in self._entries.items() if entry[0] in pks or n in names]:
            self._entries.pop(name, None)


#: The cache of this process (held here: the stamps keep their watchers weakly).
signature_secrets = SignatureSecrets()
