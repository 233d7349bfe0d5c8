"""Fixtures of the security tests: the loopback sockets (``refusing_url``, ``silent_url``)
are the root conftest's."""
