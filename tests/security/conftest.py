"""Fixtures of the security tests: loopback sockets that refuse or never answer."""

from __future__ import annotations

import socket

import pytest

from django_apiauth import tokens


@pytest.fixture(autouse=True)
def _clean_token_memory():
    tokens.clear_process_memory()
    yield
    tokens.clear_process_memory()


@pytest.fixture
def apiauth(settings):
    """Edit ``settings.APIAUTH`` in place: ``apiauth(MAX_RETRIES=0)``."""

    def update(**values):
        settings.APIAUTH = {**settings.APIAUTH, **values}

    return update


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
