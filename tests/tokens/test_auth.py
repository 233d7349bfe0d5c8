"""Bearer and dashboard Basic auth on client calls."""

from __future__ import annotations

import io

import pytest
import requests

from django_apiauth.client import ApiClient
from django_apiauth.clients.bearer import BearerTokenAuth
from django_apiauth.exceptions import ConfigurationError
from django_apiauth.transport.basic import DashboardBasicAuth

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
    fake_provider.add_bearer_endpoint("POST", "/api/orders", json={"created": True}, status=201)
    return fake_provider


def sent_authorization(provider, index=-1):
    return provider.mock.calls[index].request.headers.get("Authorization")


def test_a_token_call_sends_the_bearer_token(api_client, orders):
    response = api_client.get("/api/orders")
    assert response.status_code == 200
    assert sent_authorization(orders) == f"Bearer {api_client.access_token()}"


def test_many_calls_share_one_token(api_client, orders):
    for _ in range(10):
        api_client.get("/api/orders")
    assert orders.token_requests == 1
    assert orders.bearer_calls == 10


def test_a_token_revoked_early_is_refetched_once_and_the_call_replayed(api_client, orders):
    old = api_client.access_token()
    orders.revoke_tokens()
    response = api_client.get("/api/orders")
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert orders.token_requests == 2
    assert api_client.access_token() != old


def test_a_replayed_post_sends_the_same_body(api_client, orders):
    api_client.access_token()
    orders.revoke_tokens()
    response = api_client.post("/api/orders", json={"reference": "A-1"})
    assert response.status_code == 201
    bodies = [c.request.body for c in orders.mock.calls if c.request.url.endswith("/orders")]
    assert bodies[-1] == bodies[-2] == b'{"reference": "A-1"}'


def test_a_file_body_is_rewound_for_the_replay(api_client, orders):
    api_client.access_token()
    orders.revoke_tokens()
    response = api_client.post("/api/orders", data=io.BytesIO(b"payload"))
    assert response.status_code == 201


def test_a_second_401_is_returned_not_retried_forever(api_client, fake_provider):
    fake_provider.mock.add("GET", "https://provider.test/api/locked", status=401)  # refuses all
    response = api_client.get("/api/locked")
    assert response.status_code == 401
    assert fake_provider.token_requests == 2
    locked = [c for c in fake_provider.mock.calls if c.request.url.endswith("/api/locked")]
    assert len(locked) == 2


def test_a_streamed_body_is_not_replayed_but_its_dead_token_is_dropped(api_client, orders):
    dead = api_client.access_token()
    orders.revoke_tokens()
    response = api_client.post("/api/orders", data=(chunk for chunk in [b"a", b"b"]))
    assert response.status_code == 401
    assert api_client.store.cached() is None or api_client.store.cached().value != dead
    assert api_client.get("/api/orders").status_code == 200


def test_a_401_for_a_token_already_replaced_does_not_drop_the_new_one(api_client, orders):
    dead = api_client.access_token()
    api_client.store.invalidate(dead)
    fresh = api_client.access_token()
    auth = BearerTokenAuth(api_client.store)
    late = requests.Response()
    late.status_code = 401
    late.request = requests.Request("GET", "https://provider.test/api/orders").prepare()
    late.request.headers["Authorization"] = f"Bearer {dead}"
    late.request.body = (b for b in [])  # not replayable: only the invalidation runs
    auth.handle_401(late)
    assert api_client.store.cached().value == fresh


def test_other_statuses_are_left_alone(api_client, fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/forbidden", json={}, status=403)
    response = api_client.get("/api/forbidden")
    assert response.status_code == 403
    assert response.history == []
    assert fake_provider.token_requests == 1


def test_the_seed_basic_test_vector(fake_provider, db):
    credential = fake_provider.create_credential(
        name="vector", dashboard_username="random@domain.com", dashboard_password="john123"
    )
    fake_provider.dashboard_username, fake_provider.dashboard_password = (
        "random@domain.com",
        "john123",
    )
    fake_provider.add_basic_endpoint("GET", "/api/dashboard", json={"ok": True})
    response = ApiClient(credential).get("/api/dashboard", auth="basic")
    assert response.status_code == 200
    assert sent_authorization(fake_provider) == "Basic cmFuZG9tQGRvbWFpbi5jb206am9objEyMw=="
    assert fake_provider.token_requests == 0


@pytest.mark.parametrize("missing", ["dashboard_username", "dashboard_password"])
def test_basic_without_a_dashboard_login_is_refused_before_sending(fake_provider, db, missing):
    credential = fake_provider.create_credential(name="no-login", **{missing: ""})
    fake_provider.add_basic_endpoint("GET", "/api/dashboard", json={})
    with pytest.raises(ConfigurationError, match=f"'no-login'.*{missing}"):
        ApiClient(credential).get("/api/dashboard", auth="basic")
    assert len(fake_provider.mock.calls) == 0


def test_auth_none_sends_no_authorization(api_client, fake_provider):
    fake_provider.mock.add("GET", "https://provider.test/api/status", json={"up": True})
    api_client.get("/api/status", auth="none")
    assert sent_authorization(fake_provider) is None
    assert fake_provider.token_requests == 0


def test_an_unknown_auth_mode_is_refused(api_client):
    with pytest.raises(ValueError, match="auth must be one of"):
        api_client.get("/api/orders", auth="digest")


def test_an_auth_tuple_is_refused_without_echoing_the_password(api_client, fake_provider):
    # requests users write auth=(user, password); the refusal must not quote it.
    with pytest.raises(ValueError, match="auth must be one of") as caught:
        api_client.get("/api/orders", auth=("ops@shop.example", "hunter2-password"))
    assert "hunter2-password" not in str(caught.value)
    assert "'shop'" in str(caught.value)
    assert len(fake_provider.mock.calls) == 0


def test_auth_objects_do_not_show_secrets_in_their_repr(api_client, credential):
    assert repr(BearerTokenAuth(api_client.store)) == "<BearerTokenAuth credential='shop'>"
    assert repr(DashboardBasicAuth(credential)) == "<DashboardBasicAuth credential='shop'>"
