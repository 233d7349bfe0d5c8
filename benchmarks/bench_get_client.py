"""``get_client(name).get(path)`` per request against a reused client, over keep-alive.

    .venv/bin/python benchmarks/bench_get_client.py

A keep-alive HTTP/1.1 provider on loopback (``tests/tokens/keepalive.py``)
answers every call at once, so what is measured is the client side. Three
ways to make the same authenticated GET, interleaved round by round (the
median per call of each is reported):

* reused: one ``ApiClient`` kept by the caller, ``client.get(path)``;
* get_client: ``get_client(name).get(path)`` on every call, as the README shows;
* fresh: ``ApiClient(ApiCredential.objects.get(...)).get(path)`` on every call —
  what ``get_client`` did before it kept clients (a query, decryptions and a
  new connection per call).

The ways take turns call by call (a shared machine's drift hits them alike);
each round sums every way's own call times, and the median round is reported.

The figure of issue 12: get_client within 1.1x reused.
"""

import statistics
import time

from _django import KEY, setup

setup(APIAUTH={"ENCRYPTION_KEYS": [KEY], "ALLOW_INSECURE_LOOPBACK": True})

from django.core.management import call_command  # noqa: E402

from django_apiauth.client import ApiClient, get_client  # noqa: E402
from django_apiauth.models import ApiCredential  # noqa: E402
from tests.tokens.keepalive import KeepAliveProvider  # noqa: E402

ROUNDS = 15
CALLS = 200  # per way per round
PATH = "/api/merchants/me"


def one_round(ways, calls=CALLS):
    """Seconds per call of each way, the ways taking turns call by call."""
    spent = dict.fromkeys(ways, 0.0)
    clock = time.perf_counter
    for _ in range(calls):
        for name, fn in ways.items():
            start = clock()
            fn()
            spent[name] += clock() - start
    return {name: total / calls for name, total in spent.items()}


def main():
    call_command("migrate", verbosity=0)
    with KeepAliveProvider() as server:
        ApiCredential.objects.create(
            name="shop", base_url=server.url, api_key="key-1234", api_secret="secret"
        )
        reused = ApiClient(ApiCredential.objects.get(name="shop"))
        ways = {
            "reused": lambda: reused.get(PATH).content,
            "get_client": lambda: get_client("shop").get(PATH).content,
            "fresh": lambda: (
                ApiClient(ApiCredential.objects.get(name="shop", is_active=True)).get(PATH).content
            ),
        }
        one_round(ways, 20)  # warm up: tokens, connections, imports
        timings = {name: [] for name in ways}
        connections_before = server.connections
        for _ in range(ROUNDS):
            for name, value in one_round(ways).items():
                timings[name].append(value)
        fresh_connections = server.connections - connections_before
    median = {name: statistics.median(values) for name, values in timings.items()}
    print(f"GET {PATH} on a loopback keep-alive server, {ROUNDS} rounds x {CALLS} calls per way")
    for name, value in median.items():
        ratio = value / median["reused"]
        print(f"  {name:<11} {value * 1e3:7.3f} ms per call  ({ratio:4.2f}x reused)")
    print(f"  connections opened during the rounds: {fresh_connections} (all by 'fresh')")
    print(f"  get_client / reused: {median['get_client'] / median['reused']:.3f} (target <= 1.1)")


if __name__ == "__main__":
    main()
