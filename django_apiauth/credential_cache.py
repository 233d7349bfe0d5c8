"""Objects kept per process, one per active credential, kept fresh by the credential stamps.

The rules (a stamp per pk, not per name; :data:`STAMP_INTERVAL`, :data:`RECHECK_INTERVAL`,
the query while the cache is down, :data:`MAX_CLIENTS`) are in ``docs/tokens.md``.
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

__all__ = [
    "MAX_CLIENTS",
    "RECHECK_INTERVAL",
    "STAMP_INTERVAL",
    "ClientCache",
    "clear",
    "compile_queries",
]

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
        self.row = row  # every column but the check results, as stored (see _row_fields)
        self.stamp = stamp  # None: built while the cache was down
        now = clock.current.monotonic()
        self.next_check = now + STAMP_INTERVAL
        self.next_recheck = now + RECHECK_INTERVAL


class ClientCache(Generic[Client]):
    """Name → client of the active credential, per process, kept fresh by the stamps.

    ``factory(credential)`` builds a client; it is returned until the credential
    changes, then rebuilt and the old one's ``close()`` (if any) called.
    Thread-safe: a race builds a client twice at worst, and only one is kept.
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

        Past it, the same logic runs in one hop to asgiref's thread-sensitive
        executor, on the connection Django's async ORM uses. Not on the event
        loop, not even the stamp read: the cache door may wait ``CACHE_TIMEOUT``
        for a hung cache, freezing every task of the loop. Not
        ``asyncio.to_thread``: a query there opens a connection nobody closes.
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
            recheck = not fresh or now >= entry.next_recheck
            # The cache is down (or the safety net is due): ask the database, cheaply.
            if not recheck or ((fresh or not answered) and self._row_of(entry.pk) == entry.row):
                entry.next_check = now + STAMP_INTERVAL
                if fresh and recheck:
                    entry.next_recheck = now + RECHECK_INTERVAL
                with self._lock, contextlib.suppress(KeyError):  # dropped meanwhile: no matter
                    self._entries.move_to_end(name)
                return entry.client
        return self._load(name)

    def _load(self, name: str, *, retry: bool = True) -> Client:
        from django_apiauth.models import ApiCredential

        try:
            credential = _active(name).get()
        except ApiCredential.DoesNotExist:
            self._replace(name, None)
            raise CredentialNotFound(f"no active credential named {name!r}") from None
        row = _stored(credential.__dict__[field] for field in _row_fields())
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
        """The row ``pk`` as stored (ciphertexts, never decrypted): one indexed query."""
        row = _row_query(pk).first()
        return row and _stored(row)

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


def _active(name: str) -> Any:
    from django_apiauth.models import ApiCredential

    return ApiCredential.objects.filter(name=name, is_active=True)


def _row_query(pk: object) -> Any:
    from django_apiauth.models import ApiCredential

    return ApiCredential._base_manager.filter(pk=pk).values_list(*_row_fields())


def compile_queries() -> bool:
    """Compile, never run, the queries of a first ``get``: Django builds its SQL machinery
    lazily (3 to 4 ms in the first query of a process), which start-up can pay instead.

    Leaves no connection open (one a backend opens to compile is closed again); returns
    whether the queries compiled. Best effort: if a router or a backend cannot compile
    them here, the first call does.
    """
    from django.db import connections, router

    from django_apiauth.models import ApiCredential

    connection, was_connected = None, True
    try:  # any router's, alias's or backend's reason to fail: the first call compiles them
        alias = router.db_for_read(ApiCredential)
        connection = connections[alias]
        was_connected = connection.connection is not None
        for queryset in (_active(""), _row_query(0)):
            queryset.query.get_compiler(using=alias).as_sql()
    except Exception:
        return False
    finally:
        if not was_connected and connection.connection is not None:
            connection.close()  # never a connection inherited by forked workers
    return True


def _row_fields() -> list[str]:
    # Every column but the check results: an edit by raw SQL (no stamp, no updated_at)
    # of a secret or the endpoint is seen by the look once a minute too.
    from django_apiauth.models import ApiCredential

    fields = ApiCredential._meta.concrete_fields
    return [f.attname for f in fields if f.attname not in stamps.STATUS_FIELDS]


def _stored(values: Iterable[Any]) -> tuple:
    return tuple(getattr(value, "stored", value) for value in values)  # a bound secret's text


def _close(client: object) -> None:
    # Closing only releases idle pooled connections: a thread still using the
    # old client finishes its call (its connection is closed when released).
    getattr(client, "close", lambda: None)()


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
