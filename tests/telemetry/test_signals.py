"""The metrics and spans of issue 21: names, counts and attributes, and no secret in any."""

from __future__ import annotations

import json

import pytest
import requests
from opentelemetry.trace import SpanKind

from django_apiauth.client import get_client
from django_apiauth.testing.notifications import tamper
from django_apiauth.tokens import shared_cache

pytestmark = [pytest.mark.urls("tests.notifications.urls"), pytest.mark.django_db]

PAYMENT_URL = "/provider/notifications/shop/payment/"
SHOP = ("apiauth.credential", "shop")


@pytest.fixture
def shop(fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
    return fake_provider.create_credential(
        name="shop", signature_secret=fake_provider.signature_secret
    )


def post(client, body):
    return client.post(PAYMENT_URL, data=json.dumps(body), content_type="application/json")


def test_the_scenario_exports_the_contracts_metrics_and_spans(
    client, fake_provider, shop, telemetry, monkeypatch
):
    api = get_client("shop")
    for _ in range(3):  # a cold fetch, then three calls on one token
        assert api.get("/api/orders").status_code == 200
    fake_provider.revoke_tokens()
    assert api.get("/api/orders").status_code == 200  # a 401, a new token, the replay
    notification = fake_provider.payment_notification()
    assert post(client, notification).status_code == 200
    assert post(client, notification).status_code == 200  # redelivered
    assert post(client, tamper(fake_provider.payment_notification())).status_code == 403
    assert api.check().ok

    def cache_down(alias, operation, args):
        raise ConnectionError("redis://:hunter2@cache.internal:6379 is down")

    monkeypatch.setattr(shared_cache, "_run", cache_down)
    api.invalidate_token()  # the delete fails; the cache is then left alone
    assert api.get("/api/orders").status_code == 200  # fetched directly meanwhile
    monkeypatch.undo()
    shared_cache.reset()

    ok = (SHOP, ("apiauth.outcome", "ok"))
    assert telemetry.counts("apiauth.token.requests") == {ok: 4}
    assert telemetry.counts("apiauth.token.request.duration") == {ok: 4}
    assert telemetry.counts("apiauth.token.waits") == {(SHOP,): 3}
    assert telemetry.counts("apiauth.token.rejections") == {(SHOP,): 1}
    assert telemetry.counts("apiauth.cache.errors") == {(("apiauth.operation", "delete"),): 1}
    payment = (SHOP, ("apiauth.kind", "payment"), ("apiauth.scheme", "hash"))
    notifications = {
        tuple(sorted((*payment, ("apiauth.outcome", outcome)))): 1
        for outcome in ("accepted", "duplicate", "refused")
    }
    assert telemetry.counts("apiauth.notifications") == notifications
    assert telemetry.counts("apiauth.notification.duration") == notifications
    assert telemetry.counts("apiauth.connectivity.checks") == {ok: 1}

    fetches = telemetry.spans("apiauth.token.fetch")
    assert len(fetches) == 4
    for span in fetches:
        assert span.kind == SpanKind.CLIENT
        assert dict(span.attributes) == {
            "apiauth.credential": "shop",
            "server.address": "provider.test",
            "http.response.status_code": 200,
            "apiauth.outcome": "ok",
        }
    received = telemetry.spans("apiauth.notification")
    assert [s.kind for s in received] == [SpanKind.SERVER] * 3
    assert [s.attributes["apiauth.outcome"] for s in received] == [
        "accepted",
        "duplicate",
        "refused",
    ]
    (check,) = telemetry.spans("apiauth.connectivity.check")
    assert dict(check.attributes) == {"apiauth.credential": "shop", "apiauth.outcome": "ok"}
    # The check's token fetch is part of the check's trace.
    assert any(s.parent and s.parent.span_id == check.context.span_id for s in fetches)

    exported = telemetry.dump()
    secrets = [
        fake_provider.api_key,
        fake_provider.api_secret,
        fake_provider.dashboard_password,
        fake_provider.signature_secret,
        *fake_provider.issued_tokens,
        notification["signature"],
        notification["id"],
        "hunter2",
    ]
    assert len(fake_provider.issued_tokens) == 4
    leaked = [secret for secret in secrets if secret in exported]
    assert leaked == []


def test_the_histograms_are_in_seconds(client, shop, telemetry):
    get_client("shop").get("/api/orders")
    post(client, {"not": "signed"})
    units = {
        metric.name: metric.unit
        for resource in telemetry.metrics_data().resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert units["apiauth.token.request.duration"] == "s"
    assert units["apiauth.notification.duration"] == "s"


def test_an_invalid_client_answer_is_counted_as_such(fake_provider, shop, telemetry):
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    assert not get_client("shop").check().ok
    outcome = (SHOP, ("apiauth.outcome", "invalid_client"))
    assert telemetry.counts("apiauth.token.requests") == {outcome: 1}
    assert telemetry.counts("apiauth.connectivity.checks") == {
        (SHOP, ("apiauth.outcome", "failed")): 1
    }
    (fetch,) = telemetry.spans("apiauth.token.fetch")
    assert fetch.attributes["http.response.status_code"] == 401
    assert fetch.attributes["error.type"] == "InvalidCredentialsError"
    assert not fetch.events  # no exception event: its message is not the collector's business
    assert not fetch.status.description


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        ({"exception": requests.ConnectTimeout()}, "timeout"),
        ({"exception": requests.ConnectionError()}, "error"),
        ({"status": 500, "body": "oops"}, "error"),
    ],
)
def test_a_failed_token_request_says_why(fake_provider, shop, telemetry, apiauth, failure, outcome):
    apiauth(MAX_RETRIES=0)
    fake_provider.fail_token_requests(**failure)
    get_client("shop").check()
    assert telemetry.counts("apiauth.token.requests") == {(SHOP, ("apiauth.outcome", outcome)): 1}


@pytest.fixture
def failing_receiver():
    """The shop's receiver raises: every delivery handed to it ends in an error."""
    from django_apiauth.signals import notification_received

    def fail(**kwargs):
        raise RuntimeError("the shop's code failed")

    notification_received.connect(fail, weak=False)
    yield
    notification_received.disconnect(fail)


def test_a_view_that_fails_is_an_error(client, fake_provider, shop, telemetry, failing_receiver):
    assert post(client, fake_provider.payment_notification()).status_code == 500
    ((attributes, count),) = telemetry.counts("apiauth.notifications").items()
    assert ("apiauth.outcome", "error") in attributes
    assert count == 1


def test_a_notification_for_a_made_up_name_does_not_grow_series_forever(
    client, telemetry, monkeypatch
):
    from django_apiauth import telemetry as hooks

    monkeypatch.setattr(hooks, "_names", set())
    for index in range(hooks.MAX_NAMES + 5):
        client.post(f"/provider/notifications/scan-{index}/payment/", data="{}", content_type="x")
    names = {dict(k)["apiauth.credential"] for k in telemetry.counts("apiauth.notifications")}
    assert len(names) <= hooks.MAX_NAMES + 1
    assert "other" in names


@pytest.mark.django_db(transaction=True)
def test_an_async_view_is_counted_once(client, fake_provider, shop, telemetry):
    body = fake_provider.payment_notification()
    response = client.post("/async-view/", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 200
    accepted = [SHOP, ("apiauth.kind", "payment"), ("apiauth.outcome", "accepted")]
    accepted.append(("apiauth.scheme", "hash"))
    counts = telemetry.counts("apiauth.notifications")
    assert {tuple(sorted(k)): v for k, v in counts.items()} == {tuple(sorted(accepted)): 1}
    assert len(telemetry.spans("apiauth.notification")) == 1


def test_processing_again_counts_the_final_outcome_only(
    client, fake_provider, shop, telemetry, failing_receiver
):
    from django_apiauth.models import NotificationDelivery
    from django_apiauth.notifications.views import process_again

    assert post(client, fake_provider.payment_notification()).status_code == 500
    telemetry.start()
    done, _summary = process_again(NotificationDelivery.objects.get(outcome="error"))

    assert done is False
    outcomes = [dict(k)["apiauth.outcome"] for k in telemetry.counts("apiauth.notifications")]
    assert outcomes == ["error"]
