"""Fixtures of the test kit's own tests (they need neither the database nor example_project)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests


@pytest.fixture
def sandbox(sandbox_provider):
    return sandbox_provider


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture
def fetch_token(sandbox, http):
    """Get a token from the sandbox the way PROVIDER.md describes."""

    def fetch(account=None) -> str:
        account = account or sandbox.account
        answer = http.post(
            f"{sandbox.url}/api/token",
            data={"grant_type": "client_credentials"},
            auth=(account.api_key, account.api_secret),
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    return fetch


@dataclass
class Receiver:
    """A merchant endpoint: records each JSON body, answers ``statuses`` in turn, then 204."""

    url: str = ""
    received: list = field(default_factory=list)
    statuses: list = field(default_factory=list)


@pytest.fixture
def receiver():
    record = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            record.received.append(json.loads(self.rfile.read(length)))
            self.send_response(record.statuses.pop(0) if record.statuses else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield record
    server.shutdown()
    thread.join()
    server.server_close()
