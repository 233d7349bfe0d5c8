"""What one process holds per credential: one :class:`Slot`, replaced on edit, swept when idle.

Each slot's lock guards its fields only; it is never held across I/O.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from django_apiauth import clock, forks
from django_apiauth.tokens import background
from django_apiauth.tokens.values import Block, Token

__all__ = ["SWEEP_INTERVAL", "Slot", "clear", "slot_for", "slots"]

#: Slots that hold nothing usable are swept at most this often (seconds).
SWEEP_INTERVAL = 60.0
#: Weight of the newest fetch in the moving average of the fetch latency.
LATENCY_WEIGHT = 0.3


class Slot:
    """One credential's token, in-flight obtain, fetch latency and remembered failures."""

    __slots__ = (
        "blocks",
        "created_at",
        "dropped",
        "dropped_until",
        "future",
        "key",
        "latency",
        "lock",
        "rejections",
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
        #: The values last dropped as dead, and the latest ``use_until`` among them: such
        #: a token, or an older one, is never adopted again (see :meth:`is_dead`).
        self.dropped: tuple[str, ...] = ()
        self.dropped_until = 0.0
        #: This process's copy of the rejection record (see ``failures.Rejections``).
        self.rejections: Any = None
        #: ``invalid``/``backoff`` blocks also kept here, so a dead cache still stops hammering.
        self.blocks: dict[str, Block] = {}

    def __repr__(self) -> str:
        return f"<Slot token={self.token!r} running={self.running}>"

    def usable(self) -> Token | None:
        """The token held, if it may still be used now."""
        token = self.token
        return token if token is not None and clock.current.monotonic() < token.use_until else None

    def adopt(self, token: Token) -> Token:
        """Take ``token`` unless it is dead or ours is newer; waiters go with the token held."""
        with self.lock:
            current = self.token
            # A refresh that finished while the cache was read stays (on a tie: the fleet's).
            fresh = not self.is_dead(token)
            if fresh and (
                current is None
                or token.use_until > current.use_until
                or (token.use_until == current.use_until and token.value != current.value)
            ):
                self.token = token
                self.latency = self.latency or token.latency or None
            token = self.token or token
            future = self.future
            if not fresh or future is None or clock.current.monotonic() >= token.use_until:
                future = None
            else:
                self.future = None
        if future is not None:
            background.settle(future, token)
        return token

    def postpone(self, token: Token) -> Token:
        """Keep using ``token`` after a failed refresh; retry it a little later."""
        # A few retries within the remaining validity, not one on every call.
        delay = max(0.05, min(5.0, (token.use_until - clock.current.monotonic()) / 8))
        postponed = token.postponed(delay)
        with self.lock:
            if self.token is None or self.token.value == token.value:
                self.token = postponed
        return postponed

    def measured(self, latency: float) -> float:
        """Fold one fetch's latency into the moving average; the new average."""
        with self.lock:
            if self.latency is not None:
                latency = (1 - LATENCY_WEIGHT) * self.latency + LATENCY_WEIGHT * latency
            self.latency = latency
            return latency

    def drop(self, value: str | None) -> None:
        """Forget the token ``value`` (``None``: the one held), and never adopt it again:
        a cache that answers before the delete reaches it would otherwise hand it back."""
        with self.lock:
            current = self.token
            dead = value if value is not None else getattr(current, "value", None)
            self.dropped = (dead, *self.dropped[:3])
            if current is not None and current.value == dead:
                self.token = None
                self.dropped_until = max(self.dropped_until, current.use_until)

    def is_dead(self, token: Token) -> bool:
        """Dropped here, or older than a token dropped here (a cache that was down kept it)."""
        return token.value in self.dropped or token.use_until < self.dropped_until

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


forks.after_fork(_after_fork)
