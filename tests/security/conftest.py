"""Fixtures of the security tests: loopback sockets that refuse or never answer."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def loopback(apiauth):
    """Real sockets on 127.0.0.1 (no retries, short timeouts): the frames of a real failure."""
    apiauth(ALLOW_INSECURE_LOOPBACK=True, MAX_RETRIES=0, TIMEOUT=(5, 0.2))


@pytest.fixture
def refusing_url(loopback):
    """``http://127.0.0.1:<port>`` where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_url(loopback):
    """``http://127.0.0.1:<port>`` that accepts connections and never answers: a read timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)  # the kernel completes the handshakes; nobody ever reads
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
