"""Cache backends for the token tests: one that records writes, one that can be "stopped"."""

from __future__ import annotations

from django.core.cache.backends.locmem import LocMemCache


class RecordingCache(LocMemCache):
    """A LocMem cache that remembers every ``set``/``add`` (key, value, timeout) and read."""

    writes: list = []
    reads: int = 0

    def set(self, key, value, timeout=None, version=None):
        type(self).writes.append((key, value, timeout))
        return super().set(key, value, timeout, version)

    def add(self, key, value, timeout=None, version=None):
        type(self).writes.append((key, value, timeout))
        return super().add(key, value, timeout, version)

    def get_many(self, keys, version=None):
        type(self).reads += 1
        return super().get_many(keys, version)


class CacheDown(ConnectionError):
    """What a dead Redis raises (a ConnectionError subclass, like redis-py's)."""


class StoppableCache(LocMemCache):
    """A LocMem cache whose every operation raises while ``stopped`` is true."""

    stopped = False
    failures = 0
    fail_next = 0  # this many operations fail, then the cache works again (a blip)

    def _check(self):
        if type(self).fail_next > 0:
            type(self).fail_next -= 1
            type(self).failures += 1
            raise CacheDown("Error 110 connecting to redis://:hunter2@cache:6379. Timed out.")
        if type(self).stopped:
            type(self).failures += 1
            raise CacheDown(
                "Error 111 connecting to redis://:hunter2@cache:6379. Connection refused."
            )

    def get(self, *args, **kwargs):
        self._check()
        return super().get(*args, **kwargs)

    def get_many(self, *args, **kwargs):
        self._check()
        return super().get_many(*args, **kwargs)

    def set(self, *args, **kwargs):
        self._check()
        return super().set(*args, **kwargs)

    def add(self, *args, **kwargs):
        self._check()
        return super().add(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._check()
        return super().delete(*args, **kwargs)


class HookedCache(LocMemCache):
    """A LocMem cache that runs ``before_add()`` / ``before_delete()`` (once) before its next
    ``add`` / ``delete``: another process acting in the gap between two of ours."""

    before_add = None
    before_delete = None

    @classmethod
    def _run_hook(cls, name):
        hook = getattr(cls, name)
        setattr(cls, name, None)
        if hook is not None:
            hook()

    def add(self, *args, **kwargs):
        self._run_hook("before_add")
        return super().add(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._run_hook("before_delete")
        return super().delete(*args, **kwargs)


class HangingCache(LocMemCache):
    """A LocMem cache whose every read and write hangs until ``release`` is set (a frozen Redis)."""

    release = None
    calls = 0

    def _hang(self):
        type(self).calls += 1
        type(self).release.wait(30)

    def get(self, *args, **kwargs):
        self._hang()
        return super().get(*args, **kwargs)

    def get_many(self, *args, **kwargs):
        self._hang()
        return super().get_many(*args, **kwargs)

    def set(self, *args, **kwargs):
        self._hang()
        return super().set(*args, **kwargs)

    def add(self, *args, **kwargs):
        self._hang()
        return super().add(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._hang()
        return super().delete(*args, **kwargs)
