"""Cost of the bearer auth on a process-memory hit, against a static header, in one run.

    .venv/bin/python benchmarks/bench_bearer_overhead.py

(2a) Per call of the auth object alone on a ``PreparedRequest`` (best of 7 runs
     of 200 000 calls, the empty loop subtracted): a static header assignment,
     ``BearerTokenAuth`` with its token in process memory, authlib's
     ``OAuth2Auth`` (bound to its session, so it checks expiry like ours) and
     requests-oauthlib's ``OAuth2`` auth.
(2b) Whole requests to a minimal HTTP server on loopback (in another process,
     keep-alive): ``ApiClient.get`` against a plain ``requests.Session`` sending
     the same token as a static header; rounds alternate, median of the rounds.
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from _django import KEY, setup

CALLS = 200_000
REPEAT = 7
ROUNDS, REQUESTS_PER_ROUND = 10, 300


class TinyProvider(BaseHTTPRequestHandler):
    """Answers a token on POST /api/token and ``{}`` to anything else."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle plus delayed ACKs
    # make every keep-alive request wait ~40 ms, whoever the client is.
    disable_nagle_algorithm = True

    def _answer(self, body: bytes) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        token = {"access_token": "t" * 43, "token_type": "Bearer", "expires_in": 600}
        self._answer(json.dumps(token).encode())

    def do_GET(self) -> None:
        self._answer(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def serve(port_queue: multiprocessing.Queue) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TinyProvider)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def per_call_ns(run) -> float:
    best = min(_timed(run) for _ in range(REPEAT))
    return best / CALLS * 1e9


def _timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    setup(APIAUTH={"ENCRYPTION_KEYS": [KEY], "ALLOW_INSECURE_LOOPBACK": True})
    from authlib.integrations.requests_client import OAuth2Auth, OAuth2Session
    from requests_oauthlib import OAuth2

    from django_apiauth.client import ApiClient
    from django_apiauth.clients.bearer import BearerTokenAuth
    from django_apiauth.models import ApiCredential

    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    server = context.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=30)}"
    try:
        credential = ApiCredential(pk=1, name="bench", base_url=base, api_key="k", api_secret="s")
        client = ApiClient(credential)
        token = client.access_token()  # fetched once: every call below is a memory hit
        static = "Bearer " + token
        bearer = BearerTokenAuth(client.store)
        expires_at = int(time.time()) + 600
        authlib_token = {"access_token": token, "token_type": "Bearer", "expires_at": expires_at}
        authlib_session = OAuth2Session("k", "s", token=authlib_token)
        authlib_auth = OAuth2Auth(authlib_token, client=authlib_session)
        oauthlib_auth = OAuth2(client_id="k", token={"access_token": token, "token_type": "Bearer"})
        # https: requests-oauthlib refuses to sign http:// (nothing is sent here).
        prepared = requests.Request("GET", "https://provider.test/api/merchant").prepare()
        calls = range(CALLS)

        def empty() -> None:
            p = prepared
            for _ in calls:
                pass
            return p

        def static_header() -> None:
            headers = prepared.headers
            for _ in calls:
                headers["Authorization"] = static

        def auth_loop(auth):
            def run() -> None:
                p = prepared
                for _ in calls:
                    auth(p)
                p.hooks["response"].clear()

            return run

        loop = per_call_ns(empty)
        rows = [
            ("static header (baseline)", per_call_ns(static_header) - loop),
            ("django-apiauth BearerTokenAuth", per_call_ns(auth_loop(bearer)) - loop),
            ("authlib OAuth2Auth", per_call_ns(auth_loop(authlib_auth)) - loop),
            ("requests-oauthlib OAuth2", per_call_ns(auth_loop(oauthlib_auth)) - loop),
        ]
        baseline = rows[0][1]
        print(f"(2a) auth per call, best of {REPEAT} x {CALLS:,} calls, empty loop subtracted")
        print(f"{'variant':34} {'ns/call':>8} {'vs static':>10}")
        for label, ns in rows:
            print(f"{label:34} {ns:>8.0f} {ns / baseline:>9.1f}x")
        print(f"bearer overhead over a static header: {rows[1][1] - baseline:.0f} ns/call\n")

        plain = requests.Session()
        plain.headers["Authorization"] = static

        def round_plain() -> float:
            started = time.perf_counter()
            for _ in range(REQUESTS_PER_ROUND):
                plain.get(base + "/api/merchant", timeout=(3.05, 10)).content  # noqa: B018
            return time.perf_counter() - started

        def round_client() -> float:
            started = time.perf_counter()
            for _ in range(REQUESTS_PER_ROUND):
                client.get("/api/merchant").content  # noqa: B018
            return time.perf_counter() - started

        round_plain(), round_client()  # warm up connections
        plain_times, client_times = [], []
        for _ in range(ROUNDS):
            plain_times.append(round_plain())
            client_times.append(round_client())
        plain_us = statistics.median(plain_times) / REQUESTS_PER_ROUND * 1e6
        client_us = statistics.median(client_times) / REQUESTS_PER_ROUND * 1e6
        print(
            f"(2b) whole GET on loopback, median of {ROUNDS} alternating rounds of "
            f"{REQUESTS_PER_ROUND} requests"
        )
        print(f"{'variant':34} {'us/request':>10} {'ratio':>7}")
        print(f"{'requests.Session + static header':34} {plain_us:>10.0f} {1:>7.3f}")
        print(f"{'ApiClient.get (token auth)':34} {client_us:>10.0f} {client_us / plain_us:>7.3f}")
    finally:
        server.kill()
        server.join()


if __name__ == "__main__":
    main()
