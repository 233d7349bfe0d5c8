"""A fake provider for your own tests, built on ``responses`` (no network).

In a pytest suite, make the fixture available from your ``conftest.py``::

    pytest_plugins = ["django_apiauth.testing"]     # or:
    from django_apiauth.testing import fake_provider  # noqa: F401

then::

    def test_order_sync(fake_provider, db):
        fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
        fake_provider.create_credential(name="shop")
        sync_orders()                      # your code, calling get_client("shop")
        assert fake_provider.token_requests == 1

Outside pytest use it as a context manager: ``with FakeProvider() as provider: ...``.
Requires the ``responses`` package (a test dependency, not a runtime one).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import responses
from requests.auth import _basic_auth_str

from . import endpoints, tokens

if TYPE_CHECKING:
    from .models import ApiCredential

try:  # the fixture is only defined where pytest is installed
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

DEFAULT_BASE_URL = "https://provider.test"
DEFAULT_TOKEN_PATH = "/api/token"


@dataclass
class _Failure:
    status: int
    body: str
    headers: dict[str, str]
    content_type: str
    exception: BaseException | None = None


class FakeProvider:
    """The provider's token endpoint plus any bearer/Basic endpoints you register.

    The token endpoint behaves like the real one: ``POST`` with Basic
    ``api_key:api_secret`` and ``grant_type=client_credentials``, answering
    ``{"access_token", "token_type": "Bearer", "expires_in"}``, or RFC 6749
    errors (``invalid_client`` 401, ``unsupported_grant_type`` 400).

    Counters: ``token_requests``, ``tokens_issued``, ``bearer_calls``,
    ``bearer_rejected``, ``basic_calls``, ``basic_rejected``. Faults:
    :meth:`fail_token_requests` and :meth:`revoke_tokens`.
    Each instance gets random secrets, so tokens cached by an earlier test never match.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        dashboard_username: str = "merchant@example.com",
        dashboard_password: str | None = None,
        expires_in: int = 600,
        token_path: str = DEFAULT_TOKEN_PATH,
        mock: responses.RequestsMock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or f"fake_key_{secrets.token_hex(8)}"
        self.api_secret = api_secret or secrets.token_urlsafe(24)
        self.dashboard_username = dashboard_username
        self.dashboard_password = dashboard_password or secrets.token_urlsafe(12)
        self.expires_in = expires_in
        self.token_path = token_path
        self.mock = mock or responses.RequestsMock(assert_all_requests_are_fired=False)
        self._owns_mock = mock is None
        self._allowed_host = contextlib.ExitStack()
        self._lock = threading.Lock()
        self._valid_tokens: set[str] = set()
        self._issued_tokens: list[str] = []
        self._failures: list[_Failure] = []
        #: Called with each token request before it is answered (to delay or block it).
        self.before_token_request: Callable[[Any], None] | None = None
        self.token_requests = 0
        self.tokens_issued = 0
        self.bearer_calls = 0
        self.bearer_rejected = 0
        self.basic_calls = 0
        self.basic_rejected = 0
        self.mock.add_callback(
            responses.POST, self.base_url + self.token_path, callback=self._token_endpoint
        )

    def __repr__(self) -> str:
        return f"<FakeProvider {self.base_url} token_requests={self.token_requests}>"

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> FakeProvider:
        """Intercept ``requests`` (and forget tokens held in this process's memory).

        While started, its host counts as one of ``APIAUTH['ALLOWED_HOSTS']``.
        """
        tokens.clear_process_memory()
        self._allowed_host.enter_context(endpoints.allow_host(self.base_url))
        if self._owns_mock:
            self.mock.start()
        return self

    def stop(self) -> None:
        if self._owns_mock:
            self.mock.stop()
            self.mock.reset()
        self._allowed_host.close()
        tokens.clear_process_memory()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- endpoints ---------------------------------------------------------------

    def add_bearer_endpoint(
        self, method: str, path: str, *, json: Any = None, status: int = 200, body: str = ""
    ) -> None:
        """An endpoint answering ``json``/``body`` to a valid Bearer token, 401 otherwise."""
        self._add(method, path, self._bearer_ok, "bearer", json, status, body)

    def add_basic_endpoint(
        self, method: str, path: str, *, json: Any = None, status: int = 200, body: str = ""
    ) -> None:
        """An endpoint answering ``json``/``body`` to the dashboard Basic login, 401 otherwise."""
        self._add(method, path, self._basic_ok, "basic", json, status, body)

    def _add(self, method, path, is_allowed, kind, json_body, status, body) -> None:
        import json as jsonlib

        payload = jsonlib.dumps(json_body) if json_body is not None else body
        content_type = "application/json" if json_body is not None else "text/plain"

        def callback(request):
            with self._lock:
                if is_allowed(request.headers.get("Authorization", "")):
                    setattr(self, f"{kind}_calls", getattr(self, f"{kind}_calls") + 1)
                    return status, {"Content-Type": content_type}, payload
                setattr(self, f"{kind}_rejected", getattr(self, f"{kind}_rejected") + 1)
            return 401, {"Content-Type": "application/json"}, '{"error": "unauthorized"}'

        self.mock.add_callback(method.upper(), self.base_url + path, callback=callback)

    def _bearer_ok(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        return scheme == "Bearer" and value in self._valid_tokens

    def _basic_ok(self, header: str) -> bool:
        expected = _basic_auth_str(self.dashboard_username, self.dashboard_password)
        return secrets.compare_digest(header.encode(), expected.encode())

    def _token_endpoint(self, request: Any) -> tuple[int, dict[str, str], str]:
        import json as jsonlib

        if self.before_token_request is not None:
            self.before_token_request(request)  # outside the lock: it may block or sleep
        with self._lock:
            self.token_requests += 1
            if self._failures:
                failure = self._failures.pop(0)
                if failure.exception is not None:
                    raise failure.exception
                return (
                    failure.status,
                    {"Content-Type": failure.content_type, **failure.headers},
                    failure.body,
                )
            expected = _basic_auth_str(self.api_key, self.api_secret)
            header = request.headers.get("Authorization", "")
            if not secrets.compare_digest(header.encode(), expected.encode()):
                return 401, _JSON, '{"error": "invalid_client"}'
            body = request.body or ""
            if isinstance(body, bytes):
                body = body.decode("utf-8", "replace")
            grant = parse_qs(body).get("grant_type", [""])[0]
            if grant != "client_credentials":
                return 400, _JSON, '{"error": "unsupported_grant_type"}'
            token = secrets.token_urlsafe(24)
            self._valid_tokens.add(token)
            self._issued_tokens.append(token)
            self.tokens_issued += 1
            answer = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
            return 200, _JSON, jsonlib.dumps(answer)

    @property
    def issued_tokens(self) -> tuple[str, ...]:
        """Every access token this fake has handed out, revoked ones included.

        For your own leak tests: search logs, pages and outputs for each of them.
        """
        with self._lock:
            return tuple(self._issued_tokens)

    # -- faults ----------------------------------------------------------------

    def fail_token_requests(
        self,
        count: int = 1,
        *,
        status: int = 503,
        body: str = '{"error": "temporarily_unavailable"}',
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        exception: BaseException | None = None,
    ) -> None:
        """Make the next ``count`` token requests answer ``status`` with ``body``.

        With ``exception`` (e.g. ``requests.ConnectTimeout()``) they raise it instead,
        as a network failure would.
        """
        failure = _Failure(status, body, dict(headers or {}), content_type, exception)
        with self._lock:
            self._failures.extend([failure] * count)

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far: bearer calls get 401 until a new one is fetched."""
        with self._lock:
            self._valid_tokens.clear()

    # -- credentials -----------------------------------------------------------

    def credential_fields(self) -> dict[str, str]:
        """Field values of an ``ApiCredential`` that matches this provider."""
        return {
            "base_url": self.base_url,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "dashboard_username": self.dashboard_username,
            "dashboard_password": self.dashboard_password,
        }

    def create_credential(self, name: str = "default", **fields: Any) -> ApiCredential:
        """Save an ``ApiCredential`` pointing at this provider (needs database access)."""
        from .models import ApiCredential

        return ApiCredential.objects.create(name=name, **{**self.credential_fields(), **fields})


_JSON = {"Content-Type": "application/json"}


def _fake_provider_fixture() -> Iterator[FakeProvider]:
    """A started :class:`FakeProvider` at ``https://provider.test``, stopped afterwards."""
    with FakeProvider() as provider:
        yield provider


fake_provider: Callable[..., Any] | None
if pytest is not None:
    fake_provider = pytest.fixture(name="fake_provider")(_fake_provider_fixture)
else:  # pragma: no cover
    fake_provider = None
