"""OpenTelemetry metrics and spans through the API only (the ``otel`` extra); names are a contract.

Instruments are made once, on the API's global proxies, so an SDK the site
configures later is used. Without ``opentelemetry-api`` every hook is a no-op
(the decorators hand back the function itself). Attributes are names,
outcomes, schemes, hosts and status codes: never a secret, token or body.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django_apiauth import __version__
from django_apiauth.exceptions import InvalidCredentialsError, TokenEndpointError

try:
    from opentelemetry import metrics, trace
    from opentelemetry.trace import SpanKind, StatusCode
except ImportError:  # pragma: no cover - depends on what is installed
    trace = None

__all__ = [
    "cache_error",
    "connectivity_check",
    "notification",
    "notification_outcome",
    "token_rejected",
    "token_request",
    "token_wait",
]

F = TypeVar("F", bound=Callable[..., Any])

CREDENTIAL, OUTCOME = "apiauth.credential", "apiauth.outcome"
#: The provider signs payments with the hash scheme and transfers as JWTs.
KINDS = {"hash": "payment", "jwt": "transfer"}
#: The shared cache's operations, named as the contract names them.
OPERATIONS = {"get_many": "get", "delete_many": "delete", "touch": "set"}
#: Notification outcomes of the delivery log that the contract folds into its four.
OUTCOMES = {"deferred": "duplicate"}
#: A notification's credential name comes from its URL: past this many distinct
#: names, new ones are reported as "other", so a scan of made-up names cannot
#: create unbounded metric series.
MAX_NAMES = 100
#: Seconds (the SDK's default buckets are made for milliseconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

_names: set[str] = set()
#: The attributes of the notification being handled (filled by notification_outcome).
_delivery: ContextVar[dict[str, str] | None] = ContextVar("apiauth_delivery", default=None)

if trace is not None:
    _tracer = trace.get_tracer("django_apiauth", __version__)
    _meter = metrics.get_meter("django_apiauth", __version__)
    _count = _meter.create_counter
    _seconds = functools.partial(
        _meter.create_histogram, unit="s", explicit_bucket_boundaries_advisory=BUCKETS
    )
    _token_requests = _count("apiauth.token.requests", "{request}", "Token requests sent")
    _token_duration = _seconds("apiauth.token.request.duration", description="Token requests")
    _rejections = _count("apiauth.token.rejections", "{token}", "Tokens refused on a call")
    _waits = _count("apiauth.token.waits", "{caller}", "Callers that waited for a token")
    _cache_errors = _count("apiauth.cache.errors", "{error}", "Shared-cache calls that failed")
    _notifications = _count("apiauth.notifications", "{notification}", "Notifications received")
    _notification_duration = _seconds("apiauth.notification.duration", description="Handling")
    _CHECK = (
        "apiauth.connectivity.check",
        SpanKind.INTERNAL,
        _count("apiauth.connectivity.checks", "{check}", "Connectivity checks run"),
        None,
        lambda attributes, result, error, span: "ok" if result and result.ok else "failed",
    )
    # Not a POST (nothing logged): refused; an exception out of the handling: error.
    _NOTIFICATION = (
        "apiauth.notification",
        SpanKind.SERVER,
        _notifications,
        _notification_duration,
        lambda attributes, result, error, span: (
            "error" if error else attributes.get(OUTCOME) or "refused"
        ),
    )


def token_wait(credential: str) -> None:
    """A caller found no usable token and waits for one."""
    if trace is not None:
        _waits.add(1, {CREDENTIAL: credential})


def token_rejected(credential: str) -> None:
    """The provider answered 401 (or 403 ``invalid_token``) to a bearer call."""
    if trace is not None:
        _rejections.add(1, {CREDENTIAL: credential})


def cache_error(operation: str) -> None:
    """A shared-cache call failed or ran out of its ``CACHE_TIMEOUT`` budget."""
    if trace is not None:
        _cache_errors.add(1, {"apiauth.operation": OPERATIONS.get(operation, operation)})


def token_request(credential: str, endpoint: str) -> Any:
    """``with token_request(name, endpoint):`` around one request to the token endpoint."""
    if trace is None:
        return nullcontext()
    return _measured(
        ("apiauth.token.fetch", SpanKind.CLIENT, _token_requests, _token_duration, _token_settled),
        {CREDENTIAL: credential},
        **{"server.address": urlsplit(endpoint).hostname or ""},
    )


def connectivity_check(check: F) -> F:
    """Decorates the clients' ``check()``: a span and ``apiauth.connectivity.checks``."""
    return _around(check, lambda client: _measured(_CHECK, {CREDENTIAL: client.name}))


def notification(handle: F) -> F:
    """Decorates ``receive.handle``/``ahandle``: a span, ``apiauth.notifications`` and duration."""
    return _around(handle, _handling)


@contextmanager
def _measured(measure: tuple, attributes: dict, **span_attributes: Any) -> Iterator[Any]:
    """A span around the block, then its counter (and histogram) with ``attributes``.

    The block hands its result to the ``done`` it is given; ``settle`` turns
    result or exception into the outcome. Only an exception's class is exported.
    """
    name, kind, counter, histogram, settle = measure
    result, error, started = [None], None, time.perf_counter()

    def done(value: Any) -> Any:
        result[0] = value
        return value

    with _tracer.start_as_current_span(
        name,
        kind=kind,
        attributes=span_attributes,
        record_exception=False,  # nor its message in the status: only its class is exported
        set_status_on_exception=False,
    ) as span:
        try:
            yield done
        except Exception as err:
            error = err
            span.set_attribute("error.type", type(err).__name__)
            raise
        finally:
            attributes[OUTCOME] = settle(attributes, result[0], error, span)
            span.set_attributes(attributes)
            if attributes[OUTCOME] not in ("ok", "accepted", "duplicate"):
                span.set_status(StatusCode.ERROR)
            counter.add(1, attributes)
            if histogram is not None:
                histogram.record(time.perf_counter() - started, attributes)


def _token_settled(attributes: dict, result: Any, error: Exception | None, span: Any) -> str:
    status = 200 if error is None else getattr(error, "status_code", None)
    if status is not None:
        span.set_attribute("http.response.status_code", status)
    if error is None:
        return "ok"
    if isinstance(error, InvalidCredentialsError):
        return "invalid_client"
    # endpoint.request_token's own wording for a transport timeout (no status, no cause kept).
    if isinstance(error, TokenEndpointError) and str(error).endswith(" timed out"):
        return "timeout"
    return "error"


def _around(function: F, measured: Callable[..., Any]) -> F:
    """``function`` (sync or async) run inside the context manager ``measured(*args)``."""
    if trace is None:
        return function
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with measured(*args) as done:
                return done(await function(*args, **kwargs))

        return run_async  # type: ignore[return-value]

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with measured(*args) as done:
            return done(function(*args, **kwargs))

    return run  # type: ignore[return-value]


@contextmanager
def _handling(request: Any, credential: str, *args: Any) -> Iterator[Any]:
    attributes = _delivery_attributes(credential)
    reset = _delivery.set(attributes)  # notification_outcome fills it in
    try:
        with _measured(_NOTIFICATION, attributes) as done:
            yield done
    finally:
        _delivery.reset(reset)


def notification_outcome(credential: str, scheme: str, outcome: str) -> None:
    """The delivery log records ``outcome`` for a notification of ``credential``."""
    if trace is None or outcome == "processing":
        return
    handling = _delivery.get()
    attributes = _delivery_attributes(credential) if handling is None else handling
    attributes[OUTCOME] = OUTCOMES.get(outcome, outcome)
    if scheme in KINDS:
        attributes.update({"apiauth.scheme": scheme, "apiauth.kind": KINDS[scheme]})
    if handling is None:  # processed outside a request (the admin's "process again")
        _notifications.add(1, attributes)


def _delivery_attributes(credential: str) -> dict[str, str]:
    if credential not in _names and len(_names) >= MAX_NAMES:
        credential = "other"
    else:
        _names.add(credential)
    return {CREDENTIAL: credential}
