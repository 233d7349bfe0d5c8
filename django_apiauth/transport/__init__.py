"""Where requests may go and how they are sent and authenticated (``requests`` and ``httpx``).

:mod:`.endpoints` is the URL and host policy (HTTPS, ``ALLOWED_HOSTS``);
:mod:`.sync` and :mod:`.asynchronous` build the sessions (timeouts,
retries, TLS); :mod:`.auth` and :mod:`.async_auth` set the bearer and Basic
headers and replay once after a refused token.
"""

__all__ = []
