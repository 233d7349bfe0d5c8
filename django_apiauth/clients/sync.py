"""The sync client: ``get_client(name)`` and ``ApiClient`` (usage: :mod:`django_apiauth.client`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from django_apiauth import telemetry
from django_apiauth.clients.base import ClientBase
from django_apiauth.clients.bearer import BearerTokenAuth
from django_apiauth.clients.check import CheckResult
from django_apiauth.credential_cache import ClientCache
from django_apiauth.transport.basic import DashboardBasicAuth
from django_apiauth.transport.sync import shared_session, without_secrets

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["ApiClient", "get_client"]


def get_client(name: str) -> ApiClient:
    """The client of the *active* credential called ``name``; ``CredentialNotFound`` otherwise.

    Warm, a dictionary lookup: no query, no decryption, the same pooled connections.
    An edit or a deactivation reaches every process within about a second.
    """
    return _clients.get(name)


class ApiClient(ClientBase):
    """A ``requests``-based client bound to one credential.

    ``request()`` takes a path relative to the credential's endpoint and any
    ``requests`` keyword argument. A refused bearer token is judged by the
    token store and the call replayed, twice at most (:mod:`~django_apiauth.clients.bearer`).
    Authenticated calls follow redirects only with ``allow_redirects=True``;
    every hop is held to the HTTPS policy and ``requests`` drops the header on
    a change of host.

    Thread-safe: ``get_client`` shares it with every thread of the process, so
    do not ``close()`` it or mutate ``client.session``: pass ``headers=...`` per call.
    """

    def __init__(self, credential: ApiCredential) -> None:
        super().__init__(credential)
        self._bearer: BearerTokenAuth | None = None
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        """The ``requests.Session`` of this client (see ``transport.sync.create_session``)."""
        session = self._session
        return self._once("_session", self.create_session) if session is None else session

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

    def _auth(self, mode: str) -> requests.auth.AuthBase | None:
        if mode == "token":
            if self._bearer is None:  # set once, never reset
                return self._once("_bearer", lambda: BearerTokenAuth(self.store))
            return self._bearer
        self.check_auth_mode(mode)
        return DashboardBasicAuth(self.credential) if mode == "basic" else None

    def request(
        self, method: str, path: str, *, auth: str = "token", **kwargs: Any
    ) -> requests.Response:
        """Send ``method path`` with ``auth`` = ``"token"``, ``"basic"`` or ``"none"``.

        Raises ``TokenError`` subclasses when no token can be had, ``ConfigurationError``
        for a credential that cannot do ``auth`` (or a ``verify`` other than ``True`` or a
        CA bundle), ``ValueError`` for any other ``auth`` (``None`` included), and
        ``requests`` exceptions (tracebacks start here: ``transport.sync.without_secrets``).
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

    def access_token(self) -> str:
        """The current access token (from process memory, the shared cache or the provider)."""
        return self.store.access_token()

    def invalidate_token(self) -> None:
        """Drop this credential's token everywhere; the next call fetches a new one."""
        self.store.invalidate()

    @telemetry.connectivity_check
    def check(self) -> CheckResult:
        """Fetch a fresh token (bypassing every cache), then GET ``CHECK_PATH`` when set.

        Never raises for provider or transport errors: the result says what happened.
        """
        return self._run_check(self._status)

    def _status(self, path: str) -> tuple[int | None, str | None]:
        try:
            response = self.request("GET", path)
        except requests.RequestException as err:
            return None, type(err).__name__
        response.close()
        return response.status_code, None


#: This process's clients, one per credential name (see ``credential_cache``).
_clients: ClientCache[ApiClient] = ClientCache(ApiClient)
