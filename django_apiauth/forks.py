"""The one fork hook: what a child process must not inherit (threads, locks, pooled sockets)."""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["after_fork"]


def after_fork(reset: Callable[[], None]) -> None:
    """Run ``reset`` in every child forked from now on (nothing where ``fork`` does not exist)."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=reset)
