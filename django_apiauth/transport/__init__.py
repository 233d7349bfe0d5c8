"""Where requests may go and how they are sent and authenticated (``docs/architecture.md``)."""

__all__ = []
