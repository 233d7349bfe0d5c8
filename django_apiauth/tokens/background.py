"""Daemon threads that do the token store's waiting, so that callers do not.

:func:`start` runs one job in a thread of its own and returns a running
``Future``; :class:`Runner` runs short cache calls for a caller that waits with
a deadline. Daemon threads, not executors: an executor's threads are joined at
exit, so a hung Redis would hold a worker's shutdown hostage.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar

__all__ = ["Runner", "outcome_of", "running_future", "settle", "start"]

T = TypeVar("T")


def running_future() -> Future[Any]:
    """A future already marked running: ``cancel()`` cannot take it away from its other waiters.

    (``asyncio.wrap_future`` cancels the wrapped future when the awaiting task
    is cancelled; a token obtain is shared, so one impatient task must not end
    it for the rest.)
    """
    future: Future[Any] = Future()
    future.set_running_or_notify_cancel()
    return future


def settle(future: Future[Any], outcome: Any) -> None:
    """Resolve ``future`` with ``outcome`` (an exception is raised to its waiters); once only."""
    # InvalidStateError: settled already (or meanwhile, by another thread), which is fine.
    with contextlib.suppress(InvalidStateError):
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def outcome_of(call: Callable[..., T], *args: Any) -> T | BaseException:
    """What ``call(*args)`` returns, or what it raises: handed to waiters, who re-raise it."""
    try:
        return call(*args)
    except BaseException as err:
        return err


def start(job: Callable[..., T], *args: Any, name: str) -> Future[T]:
    """Run ``job(*args)`` in a new daemon thread; its outcome settles the returned future."""
    future = running_future()
    threading.Thread(
        target=lambda: settle(future, outcome_of(job, *args)), name=name, daemon=True
    ).start()
    return future


class Runner:
    """Daemon threads running submitted calls in order of arrival.

    A thread stuck in a hung call is replaced: a call never queues behind a
    hang when no thread is idle, a new one starts. Up to ``size`` threads stay
    for later calls; extra ones end after ``IDLE_EXIT`` seconds without work.
    """

    IDLE_EXIT = 30.0

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self._queue: queue.SimpleQueue[tuple] = queue.SimpleQueue()  # (future, call, args)
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, call: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``call(*args)``; a caller that gives up waiting may ``cancel()`` it.

        A cancelled call that has not started never runs (a late cache write
        after the caller moved on would only confuse the next reader).
        """
        future: Future[T] = Future()
        with self._lock:
            if self._idle == 0:
                self._threads += 1
                self._idle += 1
                name = f"{self.name}-{self._threads}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
            self._idle -= 1  # taken by this call (given back when a thread is done with it)
        self._queue.put((future, call, args))
        return future

    def _work(self) -> None:
        while True:
            try:
                future, call, args = self._queue.get(timeout=self.IDLE_EXIT)
            except queue.Empty:
                with self._lock:
                    if self._threads > self.size and self._idle > 0:
                        self._threads -= 1
                        self._idle -= 1
                        return
                continue
            if future.set_running_or_notify_cancel():
                settle(future, outcome_of(call, *args))
            with self._lock:
                self._idle += 1
