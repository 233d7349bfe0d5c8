"""Version stamps: how the fleet learns that a credential changed.

Every change of a credential writes a new random stamp under its pk in the shared cache
once its transaction commits (:func:`bump_on_commit`); processes compare the stamps of
the clients they keep about once a second (``docs/architecture.md``, "The fleet").
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from django_apiauth.tokens import shared_cache

__all__ = ["STATUS_FIELDS", "bump", "bump_on_commit", "new_stamp", "read_stamp", "watch"]

#: How long a stamp lives in the shared cache; a vanished stamp only costs one reload.
STAMP_TIMEOUT = 24 * 3600
#: Columns written by connectivity checks: changing only these leaves clients valid.
STATUS_FIELDS = frozenset({"last_check_at", "last_check_ok", "last_check_detail"})

KEY_PREFIX = "django_apiauth:credential:"


#: What keeps clients in this process (the client caches), told of every change made here.
_watchers: weakref.WeakSet[Any] = weakref.WeakSet()


def watch(watcher: Any) -> None:
    """Have ``watcher.forget(pks, names)`` called for every credential changed in this process."""
    _watchers.add(watcher)


def stamp_key(pk: object) -> str:
    return f"{KEY_PREFIX}{pk}:stamp"


def read_stamp(pk: object) -> tuple[str | None, bool]:
    """``(stamp, cache_answered)``: the credential's stamp, and whether the cache could say."""
    stamp = shared_cache.get(stamp_key(pk))
    return stamp, not shared_cache.is_down()


def new_stamp(pk: object) -> str:
    stamp = uuid.uuid4().hex
    shared_cache.set(stamp_key(pk), stamp, STAMP_TIMEOUT)
    return stamp


def bump(pks: Iterable[object]) -> None:
    """Write a new stamp for each credential: every process reloads them within a second."""
    for pk in pks:
        new_stamp(pk)


def bump_on_commit(
    pks: Iterable[object], using: str | None = None, *, names: Iterable[str] = ()
) -> None:
    """Forget this process's clients of ``pks`` now; bump their stamps once the change commits.

    After the commit: a process reloading the row before it would keep the old row under the
    new stamp. ``names`` are dropped too (a name reused after a rolled-back row, say).
    """
    pks, names = list(pks), list(names)
    if not pks:
        return
    forget(pks, names)

    def after_commit() -> None:
        bump(pks)
        forget(pks, names)  # a client built inside the transaction saw it too

    transaction.on_commit(after_commit, using=using)


def forget(pks: Iterable[object], names: Iterable[str] = ()) -> None:
    """Drop this process's clients of the credentials ``pks`` or called ``names``."""
    pks, names = set(pks), set(names)
    for watcher in list(_watchers):
        watcher.forget(pks, names)


@receiver([post_save, post_delete], sender="django_apiauth.ApiCredential")
def _credential_changed(
    sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any
) -> None:
    if update_fields is None or not set(update_fields) <= STATUS_FIELDS:
        bump_on_commit([instance.pk], using=kwargs.get("using"), names=[instance.name])
