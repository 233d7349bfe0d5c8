"""The clocks the token store reads, as one object tests replace (``clock.current``).

Local decisions use the monotonic clock; the shared cache gets wall-clock instants.
"""

from __future__ import annotations

import time

__all__ = ["Clock", "current"]


class Clock:
    """The real clocks: ``time.monotonic``, ``time.time`` and ``time.sleep``.

    Subclass it to control time in tests. The methods are the C functions
    themselves (``staticmethod``), so the bearer fast path pays no Python call.
    """

    monotonic = staticmethod(time.monotonic)
    wall = staticmethod(time.time)
    sleep = staticmethod(time.sleep)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


#: The clock every part of the token store reads (looked up at call time).
current: Clock = Clock()
