"""Where requests may go and how they are sent: :mod:`.endpoints` (HTTPS, ``ALLOWED_HOSTS``),
:mod:`.sync` and :mod:`.asynchronous` (timeouts, retries, TLS), :mod:`.basic` (the Basic header).
"""

__all__ = []
