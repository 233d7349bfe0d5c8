"""The clocks the token store reads, as one object tests can replace.

The store decides locally on the monotonic clock (immune to wall-clock
steps) and writes wall-clock instants to the shared cache (monotonic clocks
are not comparable between hosts). Every read goes through
``clock.current``, so a test swaps one attribute (``monkeypatch.setattr(clock,
"current", FakeClock())``) instead of patching module globals one by one.
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
