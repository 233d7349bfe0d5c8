"""The service clients behind :mod:`django_apiauth.client`: sync, async, and what they share.

:mod:`.sync` (``ApiClient``), :mod:`.asynchronous` (``AsyncApiClient``),
:mod:`.check` (the connectivity check and its result) and :mod:`.cache` (one
client per credential per process).
"""

__all__ = []
