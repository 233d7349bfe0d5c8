"""What one credential remembers of the provider's refusals, fleet-wide and in this process.

Blocks go to the shared cache (the fleet stops asking) and to the slot (a dead cache
still stops this process hammering); the rejection record makes the fleet back off
from an endpoint that refuses every token. Per fingerprint: ``docs/tokens.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_apiauth import clock
from django_apiauth.exceptions import InvalidCredentialsError, TokenEndpointError, TokenError
from django_apiauth.tokens import shared_cache
from django_apiauth.tokens.endpoint import MAX_RETRY_AFTER
from django_apiauth.tokens.values import INVALID_CLIENT_MEMORY, Block, CacheKeys, Token

if TYPE_CHECKING:
    from django_apiauth.tokens.memory import Slot

__all__ = ["LONGEST_PAUSE", "Failures"]

#: The fleet's first pause after a replacement token was refused on first use (seconds);
#: it doubles with each further one, up to :data:`LONGEST_PAUSE`.
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0
#: How long the rejection record outlives its pause: what the doubling remembers.
RECORD_TIMEOUT = 4 * LONGEST_PAUSE
#: A replacement noted this recently (seconds) is the one every refused caller waits for.
RECENT = 5.0


class Rejections:
    """The rejection record: ``at`` (wall) a token was replaced, ``pauses`` so far, ``until``."""

    __slots__ = ("at", "pauses", "until")

    def __init__(self, at: float, pauses: int = 0, until: float = 0.0) -> None:
        self.at, self.pauses, self.until = at, pauses, until

    @classmethod
    def from_cache_value(cls, value: Any) -> Rejections | None:
        try:
            at, pauses, until = (float(value[0]), int(value[1]), float(value[2]))
        except (TypeError, ValueError, IndexError, KeyError):
            return None
        # A forged record cannot stop the fleet for longer than the longest pause.
        return cls(at, min(max(pauses, 0), 16), min(until, clock.current.wall() + LONGEST_PAUSE))

    def as_cache_value(self) -> list[float]:
        return [self.at, self.pauses, self.until]

    def pausing(self) -> bool:
        return clock.current.wall() < self.until

    def replaced_before(self, token: Token) -> bool:
        """Whether ``token`` came after the replacement this record notes (it is that one)."""
        return token.expires_at_wall - token.lifetime >= self.at


class Failures:
    """The remembered refusals of one credential: blocks and the rejection record."""

    def __init__(self, slot: Slot, keys: CacheKeys) -> None:
        self.slot = slot
        #: The cache keys of the blocks and the record (read in one round trip with the token).
        self.keys = (keys.invalid, keys.backoff, keys.rejected)
        self.invalid_key, self.backoff_key, self.rejected_key = self.keys

    def block(self, values: dict[str, Any]) -> Block | None:
        """The block in force: from the shared cache ``values``, else from this process."""
        return (
            Block.from_cache_value("invalid", values.get(self.invalid_key))
            or Block.from_cache_value("backoff", values.get(self.backoff_key))
            or self._local_block()
        )

    def _local_block(self) -> Block | None:
        blocks = self.slot.blocks
        for key in (self.invalid_key, self.backoff_key):
            block = blocks.get(key)
            if block is not None:
                if block.seconds_left() > 0:
                    return block
                blocks.pop(key, None)
        return None

    def remember(self, err: TokenError) -> None:
        """Block further token requests if ``err`` says so (``invalid_client``, ``Retry-After``)."""
        wall = clock.current.wall()
        if isinstance(err, InvalidCredentialsError) and err.error == "invalid_client":
            block = Block("invalid", wall + INVALID_CLIENT_MEMORY, err.status_code, err.error)
            self._store(self.invalid_key, block)
        if isinstance(err, TokenEndpointError) and err.retry_after:
            pause = min(err.retry_after, MAX_RETRY_AFTER)
            self._store(self.backoff_key, Block("backoff", wall + pause, err.status_code, None))

    def _store(self, key: str, block: Block) -> None:
        self.slot.blocks[key] = block
        shared_cache.set(key, block.as_cache_value(), block.seconds_left())

    def forget(self, *more_keys: str) -> None:
        """Drop the blocks and the record (memory and cache), and the cache keys ``more_keys``."""
        for key in self.keys:
            self.slot.blocks.pop(key, None)
        self.slot.rejections = None
        shared_cache.delete_many([*self.keys, *more_keys])

    # -- tokens refused on an API call ------------------------------------------------

    def rejections(self, values: dict[str, Any]) -> Rejections | None:
        """The rejection record: from the shared cache ``values``, else this process's copy."""
        if shared_cache.is_down():
            return self.slot.rejections
        return Rejections.from_cache_value(values.get(self.rejected_key))

    def replacing(self, record: Rejections | None) -> None:
        """Note that a refused token is being replaced now (the pauses so far are kept)."""
        now = clock.current.wall()
        if record is not None and not record.until and now - record.at < RECENT:
            self.slot.rejections = record  # another process is replacing it: keep its instant
            return
        self._write(Rejections(now, record.pauses if record else 0))

    def pause(self, record: Rejections) -> None:
        """A replacement was refused on first use: the fleet stops replacing for a while."""
        wait = min(FIRST_PAUSE * 2**record.pauses, LONGEST_PAUSE)
        self._write(Rejections(record.at, record.pauses + 1, clock.current.wall() + wait))

    def proven(self) -> None:
        """A token was accepted: refusals are revocations again (the record goes)."""
        if self.slot.rejections is not None:
            self.slot.rejections = None
            shared_cache.delete(self.rejected_key)

    def _write(self, record: Rejections) -> None:
        self.slot.rejections = record
        shared_cache.set(self.rejected_key, record.as_cache_value(), RECORD_TIMEOUT)
