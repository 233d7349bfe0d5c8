"""Connections per provider host, not per credential; a bounded client cache."""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from django_apiauth import credential_cache
from django_apiauth.client import ApiClient, get_client
from django_apiauth.models import ApiCredential

from .keepalive import KeepAliveProvider

pytestmark = pytest.mark.django_db


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def make(server, count, prefix="m"):
    return [
        ApiCredential.objects.create(
            name=f"{prefix}-{i:04d}", base_url=server.url, api_key=f"k{i}", api_secret="s"
        )
        for i in range(count)
    ]


def test_clients_of_one_host_share_one_session(apiauth):
    apiauth(ALLOW_INSECURE_LOOPBACK=True)
    with KeepAliveProvider() as server:
        first, second = make(server, 2)
        assert ApiClient(first).session is ApiClient(second).session
        client = get_client(first.name)
        client.close()  # a shared session stays open for the other clients
        assert get_client(second.name).get("/api/things").json() == {"ok": True}


def test_an_overridden_session_belongs_to_its_client(apiauth):
    import requests

    apiauth(ALLOW_INSECURE_LOOPBACK=True)
    with KeepAliveProvider() as server:
        (credential,) = make(server, 1)
        own = requests.Session()
        closed = []
        own.close = lambda: closed.append(True)

        class Custom(ApiClient):
            def create_session(self):
                return own

        client = Custom(credential)
        assert client.session is own
        client.close()
        assert closed == [True]


class _CookieHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(b'{"access_token": "tok", "token_type": "Bearer", "expires_in": 600}')

    def do_GET(self) -> None:
        self._send(
            b'{"cookie": "%s"}' % (self.headers.get("Cookie") or "").encode(),
            cookie=self.path.endswith("/login"),
        )

    def _send(self, body: bytes, cookie: bool = False) -> None:
        self.send_response(200)
        if cookie:
            self.send_header("Set-Cookie", "merchant_session=of-the-first-merchant; Path=/")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_cookie_one_credential_receives_is_never_sent_for_another(apiauth):
    apiauth(ALLOW_INSECURE_LOOPBACK=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CookieHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        for name in ("first", "second"):
            ApiCredential.objects.create(name=name, base_url=url, api_key="k", api_secret="s")
        get_client("first").get("/api/login")
        assert get_client("second").get("/api/me").json() == {"cookie": ""}
        assert get_client("first").get("/api/me", cookies={"mine": "1"}).json() == {
            "cookie": "mine=1"
        }
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_cache_is_bounded_least_recently_looked_at_first(apiauth, clock):
    apiauth(ALLOW_INSECURE_LOOPBACK=True)
    with KeepAliveProvider() as server:
        make(server, 4)
        cache = credential_cache.ClientCache(ApiClient, max_size=3)
        closed = []
        clients = {}
        for name in ("m-0000", "m-0001", "m-0002"):
            clients[name] = cache.get(name)
            clients[name].close = lambda name=name: closed.append(name)
        clock.advance(credential_cache.STAMP_INTERVAL)
        assert cache.get("m-0000") is clients["m-0000"]  # looked at again: recently used
        cache.get("m-0003")
        assert closed == ["m-0001"]
        assert cache.get("m-0000") is clients["m-0000"]
        assert cache.get("m-0001") is not clients["m-0001"]  # built again when asked for
        assert len(cache._entries) == 3


@pytest.mark.slow
def test_many_credentials_hold_a_few_file_descriptors_not_one_each(apiauth):
    apiauth(ALLOW_INSECURE_LOOPBACK=True)
    with KeepAliveProvider() as server:
        credentials = make(server, 200)
        get_client(credentials[0].name).get("/api/things")
        before = open_fds()
        for credential in credentials:
            assert get_client(credential.name).get("/api/things").json() == {"ok": True}
        # The provider runs in this process: its side of a closed connection is
        # released by its handler thread, a moment after the client closed it.
        deadline = time.monotonic() + 5
        while open_fds() - before > 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert open_fds() - before <= 10


def test_concurrent_calls_of_many_credentials_keep_their_connections(apiauth, caplog):
    # 20 calls at once through the shared pool: none is discarded as "pool full".
    apiauth(ALLOW_INSECURE_LOOPBACK=True)
    with KeepAliveProvider(delay=0.2) as server:
        clients = [ApiClient(credential) for credential in make(server, 20)]
        for client in clients:
            client.store.access_token()  # tokens first: only the calls overlap below
        barrier = threading.Barrier(len(clients))

        def call(client):
            barrier.wait()
            client.get("/api/things")

        threads = [threading.Thread(target=call, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert "pool is full" not in caplog.text


def test_new_transport_settings_get_a_new_shared_session(apiauth):
    from django_apiauth.transport.sync import shared_session

    before = shared_session("https://api.example.com/v1")
    assert shared_session("https://API.example.com/v2") is before  # one per origin
    assert shared_session("https://other.example.com") is not before
    apiauth(TIMEOUT=7)
    after = shared_session("https://api.example.com/v1")
    assert after is not before and after.default_timeout == 7
