"""One access token per credential, shared by every thread, process and host of a site.

What each module does: the package table of ``docs/architecture.md``.
"""

__all__ = []
