"""The service client: ``get_client(name)`` and ``ApiClient``.

Usage::

    from django_apiauth.client import get_client

    client = get_client("merchant-fr")
    response = client.get("/api/merchants/me")            # Bearer token, shared fleet-wide
    response = client.get("/api/dashboard", auth="basic")  # dashboard login

``get_client(name)`` is cheap enough to call on every request: each process
keeps one ``ApiClient`` per credential (``credential_cache.ClientCache``) and
returns the same object, so its ``requests.Session`` reuses keep-alive
connections. The client is shared by every thread of the process: do not
``close()`` it or change its session per call (pass ``headers=...`` etc. to the
call instead). An edit or deactivation of the credential anywhere in the
fleet is seen within about a second.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import requests

from django_apiauth.clients.cache import ClientCache
from django_apiauth.clients.check import CheckResult
from django_apiauth.conf import api_settings
from django_apiauth.exceptions import ApiAuthError, ConfigurationError, TokenError
from django_apiauth.tokens.store import TokenStore
from django_apiauth.transport.auth import BearerTokenAuth, DashboardBasicAuth
from django_apiauth.transport.endpoints import check_host_is_allowed
from django_apiauth.transport.sync import shared_session, without_secrets

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["AUTH_MODES", "ApiClient", "get_client"]


AUTH_MODES = ("token", "basic", "none")


def get_client(name: str) -> ApiClient:
    """The client of the *active* credential called ``name``; ``CredentialNotFound`` otherwise.

    Warm, it costs a dictionary lookup: no query, no decryption, and the same
    client (and pooled connections) as the last call. The credential's version
    stamp in the shared cache is looked at about once a second, so an edit or
    a deactivation reaches every process promptly.
    """
    return _clients.get(name)


class ApiClient:
    """A ``requests``-based client bound to one credential.

    ``request()`` takes a path relative to the credential's endpoint and any
    ``requests`` keyword argument. Bearer tokens come from the shared token
    store; a 401 swaps the token and replays once. Authenticated calls do not
    follow redirects unless asked to (``allow_redirects=True``); every hop is
    still held to the HTTPS policy and ``requests`` drops the header on a
    change of host.

    Thread-safe: one client may serve every thread of a process (``get_client``
    shares it). Its session, token store and auth objects are built once,
    under a lock; a ``requests.Session`` is shared across threads the way
    ``requests`` users commonly do (its connection pool is thread-safe), so do
    not mutate ``client.session`` per call: pass ``headers=...`` to the call.
    """

    def __init__(self, credential: ApiCredential) -> None:
        self.credential = credential
        self.name = credential.name
        self._store: TokenStore | None = None
        self._bearer: BearerTokenAuth | None = None
        self._session: requests.Session | None = None
        self._building = threading.Lock()  # built once even when threads race for them

    def __repr__(self) -> str:
        return f"<ApiClient credential={self.name!r}>"

    # -- plumbing ------------------------------------------------------------

    @property
    def store(self) -> TokenStore:
        """The token store of this credential (built on first use)."""
        if self._store is None:
            with self._building:
                if self._store is None:
                    self._store = TokenStore(self.credential)
        return self._store

    @property
    def session(self) -> requests.Session:
        """The ``requests.Session`` of this client (see ``transport.create_session``)."""
        session = self._session
        if session is None:
            with self._building:
                if self._session is None:
                    self._session = self.create_session()
                session = self._session
        return session

    def create_session(self) -> requests.Session:
        """Override to customise the session (adapters, proxies...): the client then owns it."""
        return shared_session(self.credential.endpoint)

    def close(self) -> None:
        """Close this client's own session; a shared one stays open for the other clients."""
        with self._building:
            session, self._session = self._session, None
        if session is not None and not getattr(session, "shared", False):
            session.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on the credential's endpoint."""
        if path.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"pass a path, not a URL, to the client of {self.name!r}: credentials are "
                "only sent to the credential's own endpoint"
            )
        endpoint = self.credential.endpoint
        check_host_is_allowed(endpoint)  # APIAUTH['ALLOWED_HOSTS'], whatever the row says
        return f"{endpoint}/{path.lstrip('/')}"

    def _auth(self, mode: str) -> requests.auth.AuthBase | None:
        if mode == "token":
            bearer = self._bearer
            if bearer is None:
                store = self.store
                with self._building:
                    if self._bearer is None:
                        self._bearer = BearerTokenAuth(store)
                    bearer = self._bearer
            return bearer
        if mode == "basic":
            return DashboardBasicAuth(self.credential)
        if mode == "none":
            return None
        # Only a string is echoed: requests users pass ``auth=(user, password)`` here.
        shown = repr(mode) if isinstance(mode, str) else f"a {type(mode).__name__}"
        raise ValueError(
            f"auth must be one of {', '.join(AUTH_MODES)} for the client of {self.name!r}, "
            f"not {shown}"
        )

    # -- calls -----------------------------------------------------------------

    def request(
        self, method: str, path: str, *, auth: str = "token", **kwargs: Any
    ) -> requests.Response:
        """Send ``method path`` with ``auth`` = ``"token"``, ``"basic"`` or ``"none"``.

        Raises ``TokenError`` subclasses when no token can be had,
        ``ConfigurationError`` for a credential that cannot do ``auth`` (or a
        ``verify`` other than ``True`` or a CA bundle), and ``requests``
        exceptions for transport failures of the call itself. Their traceback
        starts here: see ``transport.without_secrets``.
        """
        kwargs["auth"] = self._auth(auth)
        if auth != "none":
            kwargs.setdefault("allow_redirects", False)
        url = self.url(path)
        try:
            return self.session.request(method.upper(), url, **kwargs)
        except Exception as err:
            failure = without_secrets(err, method, url)
        raise failure from None  # out of the except block: nothing chained

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # -- tokens and signatures ----------------------------------------------

    def access_token(self) -> str:
        """The current access token (from process memory, the shared cache or the provider)."""
        return self.store.access_token()

    def invalidate_token(self) -> None:
        """Drop this credential's token everywhere; the next call fetches a new one."""
        self.store.invalidate()

    def sign(self, payload: dict[str, Any], *, expires_in: Any = None) -> str:
        """An HS256 JWT of ``payload`` signed with the credential's signature secret."""
        from django_apiauth import signing

        secret = self.credential.signature_secret
        if not secret:
            raise ConfigurationError(
                f"credential {self.name!r} has no signature secret; set it to sign parameters"
            )
        return signing.sign(payload, secret, expires_in=expires_in)

    # -- connectivity -----------------------------------------------------------

    def check(self) -> CheckResult:
        """Fetch a fresh token (bypassing every cache), then GET ``CHECK_PATH`` when set.

        Never raises for provider or transport errors: the result says what happened.
        """
        started = time.perf_counter()
        method = "token"  # what was exercised so far (read by result() when called)

        def result(ok: bool, status: int | None, detail: str) -> CheckResult:
            latency = round((time.perf_counter() - started) * 1000, 1)
            return CheckResult(
                ok, method, status, latency, detail, name=self.name, pk=self.credential.pk
            )

        try:
            check_path = api_settings.validated("CHECK_PATH")
        except ConfigurationError as err:
            return result(False, None, str(err))
        method = f"token+GET {check_path}" if check_path else "token"

        try:
            token = self.store.fetch_fresh()
        except TokenError as err:
            return result(False, err.status_code, str(err))
        except ApiAuthError as err:  # configuration, HTTPS policy, undecryptable secrets
            return result(False, None, str(err))
        if not check_path:
            return result(True, 200, f"token valid for {token.lifetime:.0f}s")
        try:
            response = self.request("GET", check_path)
        except TokenError as err:
            return result(False, err.status_code, str(err))
        except ApiAuthError as err:
            return result(False, None, str(err))
        except requests.RequestException as err:
            return result(False, None, f"GET {check_path} failed ({type(err).__name__})")
        status = response.status_code
        response.close()
        if 200 <= status < 300:
            return result(True, status, f"token valid; GET {check_path} answered {status}")
        return result(False, status, f"token valid; GET {check_path} answered HTTP {status}")


#: This process's clients, one per credential name (see ``credential_cache``).
_clients: ClientCache[ApiClient] = ClientCache(ApiClient)
