"""The README's client, testing and connectivity examples, copied as they are written there.

``tests/test_readme.py`` fails when the README and these copies drift apart.
"""

import pytest
import responses

from django_apiauth.client import CheckResult

pytestmark = pytest.mark.django_db


def sync_orders():
    """Stands for the user's own code of the README example."""
    from django_apiauth.client import get_client

    return get_client("shop").get("/api/orders").json()["orders"]


@pytest.fixture
def shop(fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": [{"id": 1}]})
    fake_provider.add_bearer_endpoint("POST", "/api/orders", json={"id": 2}, status=201)
    fake_provider.add_basic_endpoint("GET", "/api/dashboard", json={"merchant": "m"})
    fake_provider.mock.add(responses.GET, fake_provider.base_url + "/api/status", json={})
    fake_provider.create_credential(name="shop")
    return fake_provider


def test_calling_the_api(shop):
    from django_apiauth.client import get_client

    client = get_client("shop")
    orders = client.get("/api/orders", params={"page": 2}).json()
    client.post("/api/orders", json={"reference": "A-1"})
    client.get("/api/dashboard", auth="basic")  # dashboard login as HTTP Basic
    client.get("/api/status", auth="none")  # no credentials at all

    assert orders == {"orders": [{"id": 1}]}
    assert (shop.token_requests, shop.bearer_calls, shop.basic_calls) == (1, 2, 1)
    status_call = shop.mock.calls[-1].request
    assert "Authorization" not in status_call.headers


def test_access_token_and_invalidate(shop):
    from django_apiauth.client import get_client

    client = get_client("shop")
    first = client.access_token()
    client.access_token()  # the current token (memory, cache or provider)
    client.invalidate_token()  # drop it everywhere; the next call fetches a new one

    assert client.access_token() != first
    assert shop.token_requests == 2


def test_check(shop, settings):
    from django_apiauth.client import get_client

    client = get_client("shop")
    result = client.check()
    # CheckResult(ok=True, method='token', status_code=200, latency_ms=41.7,
    #             detail='token valid for 600s')

    assert isinstance(result, CheckResult)
    assert (result.ok, result.method, result.status_code) == (True, "token", 200)
    assert result.detail == "token valid for 600s"


def test_connectivity_from_python(fake_provider, capsys):
    fake_provider.create_credential(name="shop-fr")
    broken = fake_provider.create_credential(name="shop-de")
    broken.api_secret = "wrong-secret"
    broken.save()

    from django_apiauth.connectivity import check_credentials, select_credentials

    results = check_credentials(select_credentials(["shop-fr", "shop-de"]))
    for result in results:  # one ConnectivityResult each, in the same order
        print(result.name, result.ok, result.summary)

    assert [(r.name, r.ok) for r in results] == [("shop-fr", True), ("shop-de", False)]
    assert "shop-de False failed" in capsys.readouterr().out


def test_order_sync(fake_provider, db):
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
    fake_provider.create_credential(name="shop")
    assert sync_orders() == []  # your code, calling get_client("shop")
    assert fake_provider.token_requests == 1
