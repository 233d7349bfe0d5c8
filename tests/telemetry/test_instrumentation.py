"""The standard ``requests`` instrumentation keeps working on the client's session."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from django_apiauth.client import get_client

instrumentation = pytest.importorskip("opentelemetry.instrumentation.requests")

pytestmark = pytest.mark.django_db


@pytest.fixture
def instrumented():
    instrumentor = instrumentation.RequestsInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def test_an_api_call_is_a_child_of_the_callers_span(fake_provider, telemetry, instrumented):
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
    fake_provider.create_credential(name="shop")
    api = get_client("shop")
    api.access_token()  # the token first: this test is about the call
    telemetry.exporter.clear()

    with trace.get_tracer("the-shop").start_as_current_span("checkout") as caller:
        assert api.get("/api/orders", params={"page": "2"}).status_code == 200

    (call,) = [s for s in telemetry.spans() if s.kind == trace.SpanKind.CLIENT]
    assert call.parent.span_id == caller.get_span_context().span_id
    status = call.attributes.get("http.response.status_code") or call.attributes["http.status_code"]
    assert status == 200  # old or new HTTP conventions (OTEL_SEMCONV_STABILITY_OPT_IN)
    exported = telemetry.dump()
    assert api.access_token() not in exported
    assert fake_provider.api_secret not in exported


def test_the_token_request_is_a_child_of_the_token_fetch_span(
    fake_provider, telemetry, instrumented
):
    fake_provider.create_credential(name="shop")
    get_client("shop").check()

    (fetch,) = telemetry.spans("apiauth.token.fetch")
    (post,) = [s for s in telemetry.spans() if s.name.startswith("POST")]
    assert post.parent.span_id == fetch.context.span_id
    exported = telemetry.dump()
    for secret in (fake_provider.api_key, fake_provider.api_secret, *fake_provider.issued_tokens):
        assert secret not in exported
