"""What one credential remembers of the provider's refusals, fleet-wide and in this process.

Two kinds of "stop asking for a while" (a :class:`~django_apiauth.tokens.values.Block`):
an ``invalid_client`` answer (for :data:`INVALID_CLIENT_MEMORY` seconds) and a
``Retry-After`` (for as long as it says, at most :data:`MAX_BACKOFF`). Each is
written to the shared cache, so the whole fleet stops asking, and kept in the
credential's slot too, so a dead cache still stops this process hammering.

And one rate limit: a token the provider rejects on an API call (401) is
dropped at most once per :data:`REJECTION_INTERVAL`, fleet-wide.

Failures are keyed by the credential's fingerprint, whichever row holds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_apiauth import clock
from django_apiauth.exceptions import InvalidCredentialsError, TokenEndpointError, TokenError
from django_apiauth.tokens import shared_cache
from django_apiauth.tokens.values import INVALID_CLIENT_MEMORY, MAX_BACKOFF, Block

if TYPE_CHECKING:
    from django_apiauth.tokens.memory import Slot

__all__ = ["REJECTION_INTERVAL", "Failures"]

#: After a token is dropped because the provider rejected it, further rejections
#: drop nothing for this long (seconds, fleet-wide): a permanent 401 costs a
#: token request per interval, not one per call.
REJECTION_INTERVAL = 30


class Failures:
    """The remembered refusals of one credential: blocks and the rejection rate limit."""

    def __init__(self, slot: Slot, *, invalid_key: str, backoff_key: str, rejected_key: str):
        self.slot = slot
        self.invalid_key = invalid_key
        self.backoff_key = backoff_key
        self.rejected_key = rejected_key
        #: The cache keys of the blocks (read in one round trip with the token).
        self.block_keys = (invalid_key, backoff_key)

    def block(self, values: dict[str, Any]) -> Block | None:
        """The block in force: from the shared cache ``values``, else from this process."""
        return (
            Block.from_cache_value("invalid", values.get(self.invalid_key))
            or Block.from_cache_value("backoff", values.get(self.backoff_key))
            or self._local_block()
        )

    def _local_block(self) -> Block | None:
        blocks = self.slot.blocks
        for key in self.block_keys:
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
            pause = min(err.retry_after, MAX_BACKOFF)
            self._store(self.backoff_key, Block("backoff", wall + pause, err.status_code, None))

    def _store(self, key: str, block: Block) -> None:
        self.slot.blocks[key] = block
        shared_cache.set(key, block.as_cache_value(), block.seconds_left())

    def forget(self, *more_keys: str) -> None:
        """Drop the blocks (memory and cache), and the cache keys ``more_keys`` with them."""
        for key in self.block_keys:
            self.slot.blocks.pop(key, None)
        shared_cache.delete_many([*self.block_keys, *more_keys])

    # -- tokens rejected on an API call ----------------------------------------------

    def rejection_quiet(self, now: float) -> bool:
        """Whether this process dropped a rejected token moments ago (monotonic ``now``)."""
        return now < self.slot.quiet_until

    def claim_rejection(self, now: float) -> bool:
        """Claim the fleet's one drop per :data:`REJECTION_INTERVAL`; ``False``: already taken."""
        claimed = shared_cache.add(self.rejected_key, "1", REJECTION_INTERVAL)
        self.slot.quiet_until = now + REJECTION_INTERVAL
        # ``None`` (the cache cannot say): this process's own quiet time still limits it.
        return claimed is not False
