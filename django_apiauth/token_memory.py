"""What one process holds for each credential: one :class:`Slot` per credential, bounded.

Slots are keyed by the credential (its pk) and remember the cache key (which
carries the fingerprint of the endpoint and secrets) they were made for:
editing a credential *replaces* its slot, it never adds one. Slots that hold
nothing usable are swept now and then, so the memory of a process is bounded
by the number of credentials it uses, not by their history.

Each slot's lock guards its fields only; it is never held across I/O.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from . import background, clock
from .token_values import Block, Token

#: Slots that hold nothing usable are swept at most this often (seconds).
SWEEP_INTERVAL = 60.0


class Slot:
    """One credential's token, in-flight obtain, fetch latency and remembered failures."""

    __slots__ = (
        "blocks",
        "created_at",
        "dropped",
        "future",
        "key",
        "latency",
        "lock",
        "quiet_until",
        "running",
        "token",
    )

    def __init__(self, key: str) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.created_at = clock.current.monotonic()
        self.reset()

    def reset(self) -> None:
        #: The token in use (read without the lock: one attribute read is atomic).
        self.token: Token | None = None
        #: Settled by the running obtain with its next usable token (``None``: nobody waits).
        self.future: Future[Token] | None = None
        #: Whether an obtain thread runs for this slot (at most one does).
        self.running = False
        #: Moving average of the fetch latency (seconds), ``None`` until measured.
        self.latency: float | None = None
        #: The value last dropped as dead: never adopted again from the cache.
        self.dropped: str | None = None
        #: No token is dropped for a rejection before this monotonic instant.
        self.quiet_until = 0.0
        #: ``invalid``/``backoff`` blocks also kept here, so a dead cache still stops hammering.
        self.blocks: dict[str, Block] = {}

    def __repr__(self) -> str:
        return f"<Slot token={self.token!r} running={self.running}>"

    def holds_nothing(self, now: float) -> bool:
        token, blocks = self.token, self.blocks
        return (
            now - self.created_at >= SWEEP_INTERVAL  # a store may be about to use a new one
            and not self.running
            and (token is None or now >= token.use_until)
            and all(block.seconds_left() <= 0 for block in list(blocks.values()))
        )


_slots: dict[Any, Slot] = {}
_registry_lock = threading.Lock()
_swept_at = [0.0]


def slot_for(owner: Any, key: str) -> Slot:
    """The slot of credential ``owner`` for cache ``key``; a new one if the key changed."""
    slot = _slots.get(owner)
    if slot is not None and slot.key == key:
        return slot
    with _registry_lock:
        slot = _slots.get(owner)
        if slot is None or slot.key != key:
            _sweep()
            slot = _slots[owner] = Slot(key)
        return slot


def _sweep() -> None:
    now = clock.current.monotonic()
    if now - _swept_at[0] < SWEEP_INTERVAL:
        return
    _swept_at[0] = now
    for owner, slot in list(_slots.items()):
        if slot.holds_nothing(now):
            del _slots[owner]


def size() -> int:
    """How many credentials this process holds something for."""
    return len(_slots)


def slots() -> list[Slot]:
    """The slots held now (a copy: for reports and tests)."""
    return list(_slots.values())


def clear() -> None:
    """Forget every token, latency and remembered failure of this process.

    Slots still referenced by a store are emptied in place, so that store sees
    the empty memory too.
    """
    with _registry_lock:
        for slot in _slots.values():
            with slot.lock:
                future, running = slot.future, slot.running
                slot.reset()
                # An obtain still running settles its waiters itself; keep it visible.
                slot.future, slot.running = future, running
        _slots.clear()
        _swept_at[0] = 0.0


def _after_fork() -> None:
    # The parent's threads do not exist here: a lock one of them held would stay
    # held, and an obtain it ran would never settle. Tokens stay: they are valid.
    global _registry_lock
    _registry_lock = threading.Lock()
    for slot in _slots.values():
        slot.lock = threading.Lock()
        slot.future = None
        slot.running = False


background.after_fork(_after_fork)
