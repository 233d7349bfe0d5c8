"""The provider simulation in-process, through ``responses`` (no socket, no thread).

``FakeProvider`` intercepts ``requests`` calls to its base URL and answers them
from a :class:`~.state.SandboxState` with the same endpoints as the live
server (:mod:`.endpoints`). Requires the ``responses`` package
(``pip install "django-apiauth[testing]"``).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import responses

from django_apiauth.tokens import store as token_store

from . import notifications
from .endpoints import ROUTES, ProviderRequest, answer
from .isolation import allowing
from .state import Account, SandboxState

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["FakeProvider"]

DEFAULT_BASE_URL = "https://provider.test"
DEFAULT_TOKEN_PATH = "/api/token"


def body_bytes(body: Any) -> bytes:
    """A prepared request's body as bytes: text, bytes, a file or a stream of chunks."""
    if not body:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if hasattr(body, "read"):
        return body_bytes(body.read())
    # A generator is consumed, as the real provider would read it.
    return b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else chunk for chunk in body)


def _nothing() -> None:
    pass


def serve_async_clients(base_url: str, state: SandboxState) -> Callable[[], None]:
    """Answer the async client (httpx) from ``state`` too; returns the undo."""
    try:
        from .httpx_adapter import install
    except ImportError:  # no httpx, so no async client to serve
        return _nothing
    return install(base_url, state)


def _account_field(name: str) -> property:
    def set_field(self: FakeProvider, value: str) -> None:
        # The provider now expects another value (a rotated secret, say).
        self.state.update_account(self.account, **{name: value})

    return property(lambda self: getattr(self.account, name), set_field, doc=f"``{name}``.")


def _counter(name: str) -> property:
    return property(lambda self: self.state.snapshot().get(name, 0), doc=f"``{name}`` counter.")


class FakeProvider:
    """The provider at ``base_url`` with one account, answering through ``responses``.

    The token endpoint behaves like the real one: ``POST`` with Basic
    ``api_key:api_secret`` (UTF-8) and ``grant_type=client_credentials``,
    answering ``{"access_token", "token_type": "Bearer", "expires_in"}``, or
    RFC 6749 errors (``invalid_client`` 401, ``unsupported_grant_type`` 400).
    The sandbox endpoints (``/api/merchant``, ``/api/echo``,
    ``/api/dashboard/merchant``, ``/api/purchase_link/``) answer too, and
    :meth:`add_bearer_endpoint` / :meth:`add_basic_endpoint` add your own.

    Counters: ``token_requests``, ``tokens_issued``, ``bearer_calls``,
    ``bearer_rejected``, ``basic_calls``, ``basic_rejected`` (all of them in
    ``state.snapshot()``). Faults: :meth:`fail_token_requests`,
    :meth:`revoke_tokens`, ``before_token_request``. Each instance gets random
    secrets, so tokens cached by an earlier test never match.
    """

    token_requests = _counter("token_requests")
    tokens_issued = _counter("tokens_issued")
    bearer_calls = _counter("bearer_calls")
    bearer_rejected = _counter("bearer_rejected")
    basic_calls = _counter("basic_calls")
    basic_rejected = _counter("basic_rejected")

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
        state: SandboxState | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if state is None:
            fixed = {
                "api_key": api_key or f"fake_key_{secrets.token_hex(8)}",
                "api_secret": api_secret,
                "dashboard_username": dashboard_username,
                "dashboard_password": dashboard_password,
            }
            account = Account.generate(**{k: v for k, v in fixed.items() if v is not None})
            state = SandboxState(accounts=[account], token_lifetime=expires_in)
        self.state = state
        state.base_url = self.base_url
        state.token_path = token_path
        self.mock = mock or responses.RequestsMock(assert_all_requests_are_fired=False)
        self._owns_mock = mock is None
        self._allowed_host = contextlib.ExitStack()
        for path, (methods, kind, _, _) in ROUTES.items():
            if kind != "control":
                for method in methods:
                    self._register(method, token_path if kind == "token" else path)

    def __repr__(self) -> str:
        return f"<FakeProvider {self.base_url} token_requests={self.token_requests}>"

    # -- the account -------------------------------------------------------------

    @property
    def account(self) -> Account:
        return self.state.account

    api_key = _account_field("api_key")
    api_secret = _account_field("api_secret")
    dashboard_username = _account_field("dashboard_username")
    dashboard_password = _account_field("dashboard_password")
    signature_secret = _account_field("signature_secret")
    token_path = property(lambda self: self.state.token_path)

    @property
    def expires_in(self) -> int:
        """The lifetime of the tokens issued from now on, in seconds."""
        return self.state.token_lifetime

    @expires_in.setter
    def expires_in(self, seconds: int) -> None:
        self.state.token_lifetime = seconds

    @property
    def before_token_request(self) -> Callable[[Any], None] | None:
        """Called with each token request before it is answered (to delay or block it)."""
        return self.state.before_token_request

    @before_token_request.setter
    def before_token_request(self, hook: Callable[[Any], None] | None) -> None:
        self.state.before_token_request = hook

    @property
    def issued_tokens(self) -> tuple[str, ...]:
        """Every access token handed out, revoked ones included (for your leak tests)."""
        return tuple(self.state.issued_token_values())

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> FakeProvider:
        """Intercept ``requests`` and serve the async client (and forget tokens held in
        this process's memory).

        While started, its host counts as one of ``APIAUTH['ALLOWED_HOSTS']``.
        """
        token_store.clear_process_memory()
        self._allowed_host.enter_context(allowing(self.base_url))
        if self._owns_mock:
            self.mock.start()
        self._stop_serving_httpx = serve_async_clients(self.base_url, self.state)
        return self

    def stop(self) -> None:
        if self._owns_mock:
            self.mock.stop()
            self.mock.reset()
        getattr(self, "_stop_serving_httpx", _nothing)()
        self._allowed_host.close()
        token_store.clear_process_memory()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- endpoints ---------------------------------------------------------------

    def add_bearer_endpoint(
        self, method: str, path: str, *, json: Any = None, status: int = 200, body: str = ""
    ) -> None:
        """An endpoint answering ``json``/``body`` to a valid Bearer token, 401 otherwise."""
        self._add(method, path, "bearer", json, status, body)

    def add_basic_endpoint(
        self, method: str, path: str, *, json: Any = None, status: int = 200, body: str = ""
    ) -> None:
        """An endpoint answering ``json``/``body`` to the dashboard Basic login, 401 otherwise."""
        self._add(method, path, "basic", json, status, body)

    def _add(self, method: str, path: str, auth: str, data: Any, status: int, body: str) -> None:
        is_json = data is not None
        self.state.add_endpoint(
            method,
            path,
            auth=auth,
            status=status,
            body=json.dumps(data) if is_json else body,
            content_type="application/json" if is_json else "text/plain",
        )
        self._register(method, path)

    def _register(self, method: str, path: str) -> None:
        self.mock.add_callback(method.upper(), self.base_url + path, callback=self._callback)

    def _callback(self, prepared: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(prepared.url)
        request = ProviderRequest(
            method=prepared.method,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=dict(prepared.headers),
            body=body_bytes(prepared.body),
        )
        result = answer(request, self.state)
        if result.exception is not None:
            raise result.exception
        return result.status, result.headers, result.body

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
        self.state.fail_next(
            "token",
            count,
            status=status,
            body=body,
            headers=headers,
            content_type=content_type,
            exception=exception,
        )

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far: bearer calls get 401 until a new one is fetched."""
        self.state.revoke_tokens()

    # -- notifications ------------------------------------------------------------

    def payment_notification(self, **fields: Any) -> dict[str, Any]:
        """A payment notification signed with the hash scheme, to post to your view."""
        return notifications.payment_notification(self.account, **fields)

    def transfer_notification(self, **fields: Any) -> dict[str, str]:
        """A transfer notification ``{"signature": <HS256 JWT>}``, to post to your view."""
        return notifications.transfer_notification(self.account, **fields)

    def send_notification(
        self, url: str, scheme: str = "hash", **options: Any
    ) -> notifications.Delivery:
        """POST a signed notification to ``url`` (e.g. ``live_server.url + path``), with
        the provider's retries; ``url`` is let through the ``responses`` mock."""
        self.mock.add_passthru(url)
        return notifications.send_notification(self.state, url, scheme, **options)

    # -- credentials -----------------------------------------------------------

    def credential_fields(self) -> dict[str, str]:
        """Field values of an ``ApiCredential`` that matches this provider."""
        account = self.account
        return {
            "base_url": self.base_url,
            "api_key": account.api_key,
            "api_secret": account.api_secret,
            "dashboard_username": account.dashboard_username,
            "dashboard_password": account.dashboard_password,
        }

    def create_credential(self, name: str = "default", **fields: Any) -> ApiCredential:
        """Save an ``ApiCredential`` pointing at this provider (needs database access)."""
        from django_apiauth.models import ApiCredential

        return ApiCredential.objects.create(name=name, **{**self.credential_fields(), **fields})
