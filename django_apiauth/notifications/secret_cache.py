"""The credentials' signature secrets, kept per process for the notification intake.

Loading the row and decrypting its secret for every delivery costs a query
and a decryption. Each process keeps the answer per credential name and
revalidates it with the version stamps the clients use (:mod:`~django_apiauth.stamps`):
the stamp is read at most once per :data:`STAMP_INTERVAL`; the row is loaded
again when it changed or vanished, while the shared cache is down (then once
per interval) and every :data:`RELOAD_INTERVAL` whatever it says. Edits made
in this process are seen at once. Names without an active credential are not
kept: anyone can make them up.
"""

from __future__ import annotations

from django.core.signals import setting_changed
from django.dispatch import receiver

from django_apiauth import clock, stamps
from django_apiauth.exceptions import DecryptionError

__all__ = ["RELOAD_INTERVAL", "STAMP_INTERVAL", "Unusable", "signature_secret", "signature_secrets"]

STAMP_INTERVAL = 1.0
RELOAD_INTERVAL = 60.0


class Unusable(Exception):
    """No active credential of that name, or no usable secret; the message says which."""


class _Entry:
    __slots__ = ("next_check", "pk", "reason", "reload_at", "secret", "stamp")


class SignatureSecrets:
    """Credential name → its signature secret (or why there is none); thread-safe by replacement."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        stamps.watch(self)

    def get(self, name: str) -> str:
        now = clock.current.monotonic()
        entry = self._entries.get(name)
        if entry is None or (now >= entry.next_check and not self._still_valid(entry, now)):
            entry = self._load(name, entry, now)
        if entry.reason:
            raise Unusable(entry.reason)
        return entry.secret

    def _still_valid(self, entry: _Entry, now: float) -> bool:
        if entry.stamp is None or now >= entry.reload_at:
            return False
        stamp, answered = stamps.read_stamp(entry.pk)
        entry.next_check = now + STAMP_INTERVAL
        return answered and stamp == entry.stamp

    def _load(self, name: str, old: _Entry | None, now: float) -> _Entry:
        from django_apiauth.models import ApiCredential

        # The stamp before the row: a change committed in between shows as a newer stamp.
        stamp, answered = stamps.read_stamp(old.pk) if old else (None, False)
        row = ApiCredential.objects.filter(name=name, is_active=True).first()
        if row is None:
            self._entries.pop(name, None)
            raise Unusable("no active credential with that name")
        entry = _Entry()
        entry.pk, entry.secret, entry.reason = row.pk, "", ""
        if old is None or old.pk != row.pk or not answered:
            stamp = None  # loaded again at the next look
        elif stamp is None:
            stamps.new_stamp(row.pk)  # vanished: written now, relied on from the next load
        entry.stamp, entry.next_check, entry.reload_at = (
            stamp,
            now + STAMP_INTERVAL,
            now + RELOAD_INTERVAL,
        )
        try:
            entry.secret = row.signature_secret
        except DecryptionError:
            entry.reason = "its signature secret cannot be decrypted"
        if not entry.secret and not entry.reason:
            entry.reason = "it has no signature secret"
        self._entries[name] = entry
        return entry

    def forget(self, pks: object, names: object = ()) -> None:
        pks, names = set(pks), set(names)
        for name, entry in list(self._entries.items()):
            if entry.pk in pks or name in names:
                self._entries.pop(name, None)

    def clear(self) -> None:
        self._entries = {}


#: The one cache of this process (kept alive here: the stamps only hold it weakly).
signature_secrets = SignatureSecrets()
signature_secret = signature_secrets.get


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    # Secrets are decrypted with keys from settings, from rows of a database.
    if setting in {"APIAUTH", "DATABASES", "SECRET_KEY"}:
        signature_secrets.clear()
