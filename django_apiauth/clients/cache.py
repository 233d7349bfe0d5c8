"""Clients kept per process, and the version stamps that tell the fleet a credential changed.

``get_client(name)`` is meant to be called on every request. Loading the row
and building a client each time costs a query and a new TCP (in production,
TLS) connection per call, so each process keeps one client per credential
name (:class:`ClientCache`) and hands out the same object, with its pooled
connections, again and again.

What makes that safe is a **version stamp** per credential in the shared
cache (``APIAUTH['CACHE_ALIAS']``, through :mod:`~django_apiauth.tokens.shared_cache`,
which fails soft):

* every change of a credential — ``save()``, ``delete()``, the admin, the
  commands, ``ApiCredential.objects...update()`` — writes a new random stamp
  once its transaction commits (:func:`bump`), and drops this process's own
  clients at once;
* a process looks at the stamp of a cached client at most once per
  :data:`STAMP_INTERVAL` per name; a different (or vanished) stamp means the
  row is loaded again, so an edit or a deactivation reaches every process of
  the fleet within about a second;
* when the shared cache is down, the look is a cheap query of the row's
  ``name``, ``is_active`` and ``updated_at`` instead (still at most once per
  :data:`STAMP_INTERVAL`);
* whatever the stamp says, the row is checked that way every
  :data:`RECHECK_INTERVAL`, a safety net for a stamp that could not be written
  (the cache was down when the credential was edited) and for a client built
  inside a transaction that was then rolled back.

The same cache serves coroutines (:meth:`ClientCache.aget`, behind
``aget_client``): its warm path is the same dict lookup and clock read, on
the event loop; the look at the stamp and any query run in one hop to the
thread where Django's async ORM runs its queries.

Past :data:`MAX_CLIENTS` names, the client whose stamp was looked at least
recently is dropped (``get_client`` builds it again when asked).

Stamps are per primary key, not per name: renaming a credential then
invalidates the clients cached under its old name. Writes that bypass the ORM
(raw SQL) are seen by the safety net only. The stamp is a random token, never
derived from a secret.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from asgiref.sync import sync_to_async
from django.core.signals import setting_changed
from django.dispatch import receiver

from django_apiauth import clock, forks, stamps
from django_apiauth.exceptions import CredentialNotFound

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["MAX_CLIENTS", "RECHECK_INTERVAL", "STAMP_INTERVAL", "ClientCache", "clear"]

#: Clients kept per cache and process (a few KB each: connections are shared per host).
MAX_CLIENTS = 10_000

#: Seconds between two looks at a cached client's stamp (per name, per process).
STAMP_INTERVAL = 1.0
#: Seconds between two checks of a cached client's row in the database, whatever the stamp says.
RECHECK_INTERVAL = 60.0
Client = TypeVar("Client")

#: Every ClientCache of this process (to clear them on settings changes and forks).
_registry: weakref.WeakSet[ClientCache[Any]] = weakref.WeakSet()


def clear() -> None:
    """Drop every client cached by this process (tests, settings changes, forks)."""
    for cache in list(_registry):
        cache.clear()


class _Entry(Generic[Client]):
    __slots__ = ("client", "next_check", "next_recheck", "pk", "row", "stamp")

    def __init__(self, client: Client, pk: object, row: tuple, stamp: str | None) -> None:
        self.client = client
        self.pk = pk
        self.row = row  # (name, is_active, updated_at) as loaded
        self.stamp = stamp  # None: built while the cache was down
        now = clock.current.monotonic()
        self.next_check = now + STAMP_INTERVAL
        self.next_recheck = now + RECHECK_INTERVAL


class ClientCache(Generic[Client]):
    """Name → client of the active credential, per process, kept fresh by the stamps.

    ``factory(credential)`` builds a client (``ApiClient``, ``AsyncApiClient``);
    the same client is returned until the credential changes, then a new one
    is built and the old one closed (its ``close()`` is called, when it has
    one). Threads call :meth:`get`, coroutines :meth:`aget`: one stamp logic
    for both. Thread-safe: a race builds a client twice at worst, and only one
    of them is kept.
    """

    def __init__(
        self, factory: Callable[[ApiCredential], Client], max_size: int = MAX_CLIENTS
    ) -> None:
        self.factory = factory
        self.max_size = max_size
        self._entries: OrderedDict[str, _Entry[Client]] = OrderedDict()
        self._lock = threading.Lock()  # guards replacing entries, never held across I/O
        _registry.add(self)
        stamps.watch(self)  # an edit made in this process drops the client at once

    def __repr__(self) -> str:
        return f"<ClientCache of {getattr(self.factory, '__name__', self.factory)!r}>"

    def get(self, name: str) -> Client:
        """The client of the active credential ``name``; ``CredentialNotFound`` otherwise."""
        entry = self._entries.get(name)
        if entry is not None and clock.current.monotonic() < entry.next_check:
            return entry.client
        return self._revalidate(name, entry)

    async def aget(self, name: str) -> Client:
        """:meth:`get` for coroutines: no thread hop and no query on the warm path.

        Past the warm path (once per :data:`STAMP_INTERVAL` per name, or a
        name not cached yet) the same :meth:`get` logic runs in one hop to
        asgiref's thread-sensitive executor, where Django's async ORM runs its
        queries (``aget()`` is ``sync_to_async(get)``): the row is loaded by the
        same code, on the connection the async ORM uses. Not on the event
        loop, not even the stamp read alone: the token cache door waits up to
        ``CACHE_TIMEOUT`` for a hung cache, and that wait would freeze every
        task of the loop, at every look after each back-off. One hop per name
        per second costs about 0.1 ms. Not ``asyncio.to_thread``: a query run
        in its pool would open a database connection that nobody closes.
        """
        entry = self._entries.get(name)
        if entry is not None:
            now = clock.current.monotonic()
            if now < entry.next_check:
                return entry.client
            # The other tasks keep this client while this one looks (it was valid a
            # second ago): one look per name per interval, not one per waiting task.
            entry.next_check = now + STAMP_INTERVAL
        return await sync_to_async(self._revalidate, thread_sensitive=True)(name, entry)

    def _revalidate(self, name: str, entry: _Entry[Client] | None) -> Client:
        if entry is not None:
            stamp, answered = stamps.read_stamp(entry.pk)
            now = clock.current.monotonic()
            fresh = answered and stamp is not None and stamp == entry.stamp
            if fresh and now < entry.next_recheck:
                entry.next_check = now + STAMP_INTERVAL
                self._touch(name)
                return entry.client
            # The cache is down (or the safety net is due): ask the database, cheaply.
            if (fresh or not answered) and self._row_of(entry.pk) == entry.row:
                entry.next_check = now + STAMP_INTERVAL
                if fresh:
                    entry.next_recheck = now + RECHECK_INTERVAL
                self._touch(name)
                return entry.client
        return self._load(name)

    def _load(self, name: str, *, retry: bool = True) -> Client:
        from django_apiauth.models import ApiCredential

        try:
            credential = ApiCredential.objects.get(name=name, is_active=True)
        except ApiCredential.DoesNotExist:
            self._replace(name, None)
            raise CredentialNotFound(f"no active credential named {name!r}") from None
        row = (credential.name, credential.is_active, credential.updated_at)
        stamp, answered = stamps.read_stamp(credential.pk)
        if not answered:
            stamp = None  # rebuilt once the cache answers again
        elif stamp is None:
            stamp = stamps.new_stamp(credential.pk)
        if stamp is not None and self._row_of(credential.pk) != row:
            # Changed (and its stamp bumped) between our query and our stamp read:
            # kept under the new stamp, this client would be stale. Load it again;
            # under constant churn, keep it without a stamp (looked at again in a second).
            if retry:
                return self._load(name, retry=False)
            stamp = None
        client = self.factory(credential)
        self._replace(name, _Entry(client, credential.pk, row, stamp))
        return client

    @staticmethod
    def _row_of(pk: object) -> tuple | None:
        """``(name, is_active, updated_at)`` of the row ``pk``: one indexed query, no secrets."""
        from django_apiauth.models import ApiCredential

        return (
            ApiCredential._base_manager.filter(pk=pk)
            .values_list("name", "is_active", "updated_at")
            .first()
        )

    def _touch(self, name: str) -> None:
        with self._lock, contextlib.suppress(KeyError):  # dropped meanwhile: nothing to do
            self._entries.move_to_end(name)

    def _replace(self, name: str, entry: _Entry[Client] | None) -> None:
        with self._lock:
            dropped = [self._entries.pop(name, None)]
            if entry is not None:
                self._entries[name] = entry
            while len(self._entries) > self.max_size:
                dropped.append(self._entries.popitem(last=False)[1])
        for old in dropped:
            if old is not None and old is not entry:
                _close(old.client)

    def forget(self, pks: Iterable[object], names: Iterable[str] = ()) -> None:
        """Drop the clients of the credentials ``pks`` or cached under ``names``."""
        pks, names = set(pks), set(names)
        for name, entry in list(self._entries.items()):
            if entry.pk in pks or name in names:
                with self._lock:
                    if self._entries.get(name) is not entry:
                        continue
                    del self._entries[name]
                _close(entry.client)

    def clear(self) -> None:
        with self._lock:
            entries, self._entries = self._entries, OrderedDict()
        for entry in entries.values():
            _close(entry.client)


def _close(client: object) -> None:
    # Closing only releases idle pooled connections: a thread still using the
    # old client finishes its call (its connection is closed when released).
    close = getattr(client, "close", None)
    if close is not None:
        close()


def _forget_after_fork() -> None:
    # Pooled sockets must not be shared with the parent; drop them without closing.
    for cache in list(_registry):
        cache._entries = OrderedDict()


forks.after_fork(_forget_after_fork)


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    # Clients hold sessions built from settings (TLS, timeouts) and rows from a database.
    if setting in {"APIAUTH", "CACHES", "DATABASES", "SECRET_KEY"}:
        clear()
