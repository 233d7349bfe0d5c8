"""The one door to the shared Django cache that holds tokens (``APIAUTH['CACHE_ALIAS']``).

Written once here (the design: ``docs/architecture.md``): failing soft (a cache that
raises costs process memory and a direct fetch, then is left alone a while, with one
warning a minute), a deadline (``APIAUTH['CACHE_TIMEOUT']``: a hung Redis costs a call
that budget) and the fleet lease (``cache.add``, renewed while its fetch runs). Also the
system checks' questions that take the cache itself.
"""

from __future__ import annotations

import functools
import importlib
import logging
import math
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings as django_settings
from django.core.cache import caches
from django.utils.module_loading import import_string

from django_apiauth import clock, forks, telemetry
from django_apiauth.conf import api_settings
from django_apiauth.tokens import background

__all__ = [
    "NO_CACHE_LEASE",
    "RETRY_INTERVAL",
    "WARNING_INTERVAL",
    "NoCacheLease",
    "acquire_lease",
    "delete",
    "delete_many",
    "get",
    "get_many",
    "import_problem",
    "is_down",
    "release_lease",
    "renew_lease",
    "reset",
    "round_trip_problem",
    "set",
]

log = logging.getLogger("django_apiauth.tokens.store")

#: After a cache error the cache is left alone this long (seconds).
RETRY_INTERVAL = 5.0
#: At most one "cache unavailable" warning per process in this many seconds.
WARNING_INTERVAL = 60.0

#: Django backends that import their client library only when first used, so
#: importing the backend class proves nothing: the library must be checked too.
BACKEND_LIBRARIES = {
    "django.core.cache.backends.redis.RedisCache": "redis",
    "django.core.cache.backends.memcached.PyMemcacheCache": "pymemcache",
    "django.core.cache.backends.memcached.PyLibMCCache": "pylibmc",
}


class NoCacheLease:
    """Stands for a lease while the cache is down: the process lock is all there is."""

    def __repr__(self) -> str:
        return "<no cache lease>"


NO_CACHE_LEASE = NoCacheLease()

_UNAVAILABLE = object()
#: Threads running cache operations: a couple stuck in a hung socket leave others free.
RUNNER_THREADS = 4
_runner = background.Runner(RUNNER_THREADS, name="apiauth-cache")
#: Cache aliases whose backend and client library this process has imported.
_imported: set[str] = set()


def _reset_after_fork() -> None:
    global _runner
    _runner = background.Runner(RUNNER_THREADS, name="apiauth-cache")
    reset()


forks.after_fork(_reset_after_fork)


class _Health:
    __slots__ = ("down_until", "generation", "warned_at")

    def __init__(self, generation: int = 0) -> None:
        self.down_until = 0.0
        self.warned_at = -math.inf
        #: Bumped by reset(): an answer to a call made before (a late failure under
        #: settings that have changed since) says nothing about the cache now.
        self.generation = generation


_health = _Health()


def reset() -> None:
    """Forget that the cache failed (and when this process last warned about it)."""
    _health.__init__(_health.generation + 1)


def is_down() -> bool:
    """Whether the cache failed moments ago and is being left alone."""
    return clock.current.monotonic() < _health.down_until


def _failed(operation: str, cause: str, generation: int) -> None:
    telemetry.cache_error(operation)
    if generation != _health.generation:
        return  # a call made before a reset (settings changed since)
    now = clock.current.monotonic()
    _health.down_until = now + RETRY_INTERVAL
    if now - _health.warned_at >= WARNING_INTERVAL:
        _health.warned_at = now
        log.warning(
            "the token cache %r is unavailable (%s); tokens are kept in process memory "
            "and fetched directly until it is back",
            api_settings.CACHE_ALIAS,
            cause,
        )


def _late_answer(generation: int, future: Any) -> None:
    if generation == _health.generation and not future.cancelled() and not future.exception():
        _health.down_until = 0.0


def _run(alias: str, operation: str, args: tuple) -> Any:
    # In a runner thread: ``caches[alias]`` is per thread, so is its connection.
    return getattr(caches[alias], operation)(*args)


def _call(operation: str, *args: Any, default: Any = None, even_if_down: bool = False) -> Any:
    """``caches[alias].<operation>(*args)``, or ``default`` if the cache is down, fails or hangs."""
    if not even_if_down and is_down():
        return default
    # Read at call time, and outside the try: a bad setting is an error, not a cache failure.
    budget = api_settings.validated("CACHE_TIMEOUT")
    alias = api_settings.CACHE_ALIAS
    if alias not in _imported:
        # Importing the client library (redis-py: a few hundred ms in a fresh process)
        # is work, not waiting: done here, once, so the budget only bounds the I/O.
        import_problem(alias)
        _imported.add(alias)
    generation = _health.generation
    future = _runner.submit(_run, alias, operation, args)
    try:
        return future.result(timeout=budget)
    except FutureTimeout:
        if not future.cancel():  # already running (cancelled ones never start)
            # A busy process (threads queueing for the GIL) can miss the budget with a
            # healthy cache: if the call still succeeds, the cache is back at once.
            future.add_done_callback(functools.partial(_late_answer, generation))
        _failed(operation, f"no answer within {api_settings.CACHE_TIMEOUT}s", generation)
        return default
    except Exception as err:  # any backend's any error: an API call never fails for it
        # Only the class name: a cache error's text may contain a URL with a password.
        _failed(operation, type(err).__name__, generation)
        return default


#: ``get(key)``: the value, or ``None`` (missing, or the cache unavailable).
get = functools.partial(_call, "get")
delete = functools.partial(_call, "delete")
delete_many = functools.partial(_call, "delete_many")


def get_many(keys: list[str]) -> dict[str, Any]:
    """The values found under ``keys`` (an empty dict while the cache is unavailable)."""
    return _call("get_many", keys, default={})


def set(key: str, value: Any, timeout: float) -> None:
    """Store ``value`` for ``timeout`` seconds (whole seconds, at least one), if the cache works."""
    _call("set", key, value, max(1, math.ceil(timeout)))


def acquire_lease(key: str, timeout: float) -> str | NoCacheLease | None:
    """Take the fleet-wide lease ``key`` for ``timeout`` seconds.

    Our owner id if we got it, ``None`` if another process holds it, or
    :data:`NO_CACHE_LEASE` when the cache cannot say (then nobody can wait on
    anybody: the caller goes ahead under its process lock).
    """
    owner = uuid.uuid4().hex
    # Whole seconds, at least one: a cache timeout of 0 means "already expired".
    added = _call("add", key, owner, max(1, math.ceil(timeout)), default=_UNAVAILABLE)
    if added is _UNAVAILABLE:
        return NO_CACHE_LEASE
    return owner if added else None


def renew_lease(key: str, lease: str | NoCacheLease | None, timeout: float) -> None:
    """Extend our own lease by ``timeout`` seconds from now (a fetch is still running)."""
    if isinstance(lease, str) and _call("get", key) == lease:
        _call("touch", key, max(1, math.ceil(timeout)))


def release_lease(key: str, lease: str | NoCacheLease | None) -> None:
    """Give back a lease taken by :func:`acquire_lease` (only our own)."""
    if not isinstance(lease, str):
        return
    # Tried even while the cache is marked down: it answered the ``add`` moments
    # ago, and a lease left behind after a blip (a failed token write, say)
    # makes every other process wait up to LOCK_TIMEOUT for nothing.
    # Only our own lease: if it expired and someone else took it, leave theirs.
    if _call("get", key, even_if_down=True) == lease:
        _call("delete", key, even_if_down=True)


# --- what the system checks and apiauth_check ask ------------------------------------


def import_problem(alias: str) -> tuple[str, str] | None:
    """``(what failed, the module to install)`` if the backend of ``alias`` cannot load."""
    backend = str(django_settings.CACHES.get(alias, {}).get("BACKEND", ""))
    library = BACKEND_LIBRARIES.get(backend)
    try:
        import_string(backend)
        if library:
            importlib.import_module(library)
    except ImportError as err:
        missing = getattr(err, "name", None) or library or backend.rpartition(".")[0]
        return f"{backend} cannot be imported ({type(err).__name__}: {err})", missing
    return None


def round_trip_problem(alias: str) -> str | None:
    """Why a set/get round trip through the cache ``alias`` fails, or ``None`` if it works.

    Not through the door above: a check wants the failure, not the fallback.
    """
    key = f"django_apiauth:check:{uuid.uuid4().hex}"
    try:
        cache = caches[alias]
        cache.set(key, "ok", 10)
        value = cache.get(key)
        cache.delete(key)
    except Exception as err:
        # Only the class name: the text of a cache error may contain a password.
        return f"a set/get round trip failed ({type(err).__name__})"
    if value != "ok":
        return "a value written to it could not be read back"
    return None
