"""OpenTelemetry metrics and spans, through the OpenTelemetry API only (the ``otel`` extra).

The names below are a contract: dashboards and alert rules read them
(``docs/monitoring.md`` lists them). The site configures the SDK and its
exporters; this module only asks the API's global providers, once, at import:
they are proxies, so an SDK configured later is used from then on. Without
``opentelemetry-api`` every hook is a no-op (the decorators hand back the
function itself); with the API and no SDK, the API's no-op instruments answer.

Attributes are credential names, outcomes, schemes, host names and status
codes: never a secret, a token, a signature, a header or a notification body.
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
#: Seconds: token requests and notifications take milliseconds to a few seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

_names: set[str] = set()
#: The attributes of the notification being handled (filled by notification_outcome).
_delivery: ContextVar[dict[str, str] | None] = ContextVar("apiauth_delivery", default=None)

if trace is not None:
    _tracer = trace.get_tracer("django_apiauth", __version__)
    _meter = metrics.get_meter("django_apiauth", __version__)
    _counter, _histogram = _meter.create_counter, _meter.create_histogram
    _token_requests = _counter("apiauth.token.requests", "{request}", "Token requests sent")
    _token_duration = _histogram(
        "apiauth.token.request.duration",
        "s",
        "Duration of token requests",
        explicit_bucket_boundaries_advisory=BUCKETS,
    )
    _rejections = _counter("apiauth.token.rejections", "{token}", "Tokens refused on a call")
    _waits = _counter("apiauth.token.waits", "{caller}", "Callers that waited for a token")
    _cache_errors = _counter("apiauth.cache.errors", "{error}", "Shared-cache calls that failed")
    _notifications = _counter("apiauth.notifications", "{notification}", "Notifications received")
    _notification_duration = _histogram(
        "apiauth.notification.duration",
        "s",
        "Duration of notification handling",
        explicit_bucket_boundaries_advisory=BUCKETS,
    )
    _checks = _counter("apiauth.connectivity.checks", "{check}", "Connectivity checks run")


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
    return _NO_OP if trace is None else _token_request(credential, urlsplit(endpoint).hostname)


_NO_OP = nullcontext()


@contextmanager
def _token_request(credential: str, host: str | None) -> Iterator[None]:
    attributes = {CREDENTIAL: credential}
    error: Exception | None = None
    started = time.perf_counter()
    with _tracer.start_as_current_span(
        "apiauth.token.fetch",
        kind=SpanKind.CLIENT,
        attributes={**attributes, "server.address": host or ""},
        record_exception=False,  # nothing of an exception but its class leaves the process
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except Exception as err:
            error = err
            raise
        finally:
            attributes[OUTCOME] = _token_outcome(error)
            status = 200 if error is None else getattr(error, "status_code", None)
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if error is not None:
                span.set_attribute("error.type", type(error).__name__)
                span.set_status(StatusCode.ERROR)
            _token_requests.add(1, attributes)
            _token_duration.record(time.perf_counter() - started, attributes)


def _token_outcome(error: Exception | None) -> str:
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
def _check(client: Any) -> Iterator[Callable[[Any], Any]]:
    attributes = {CREDENTIAL: client.name, OUTCOME: "failed"}

    def done(result: Any) -> Any:
        attributes[OUTCOME] = "ok" if result.ok else "failed"
        return result

    with _tracer.start_as_current_span("apiauth.connectivity.check", record_exception=False) as s:
        try:
            yield done
        finally:
            s.set_attributes(attributes)
            if attributes[OUTCOME] != "ok":
                s.set_status(StatusCode.ERROR)
            _checks.add(1, attributes)


def connectivity_check(check: F) -> F:
    """Decorates ``check()`` of the clients: a span and ``apiauth.connectivity.checks``."""
    return _around(check, _check)


@contextmanager
def _handling(request: Any, credential: str, *args: Any) -> Iterator[Callable[[Any], Any]]:
    attributes = _delivery_attributes(credential)
    attributes[OUTCOME] = ""
    reset = _delivery.set(attributes)
    started = time.perf_counter()
    with _tracer.start_as_current_span(
        "apiauth.notification", kind=SpanKind.SERVER, record_exception=False
    ) as span:
        try:
            yield lambda response: response
        except Exception:
            attributes[OUTCOME] = "error"
            raise
        finally:
            _delivery.reset(reset)
            attributes[OUTCOME] = attributes[OUTCOME] or "refused"  # not a POST: nothing logged
            span.set_attributes(attributes)
            if attributes[OUTCOME] == "error":
                span.set_status(StatusCode.ERROR)
            _notifications.add(1, attributes)
            _notification_duration.record(time.perf_counter() - started, attributes)


def notification(handle: F) -> F:
    """Decorates ``receive.handle``/``ahandle``: a span, ``apiauth.notifications`` and duration."""
    return _around(handle, _handling)


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
