"""One access token per credential for every thread, process and host (``docs/architecture.md``)."""

__all__ = []
