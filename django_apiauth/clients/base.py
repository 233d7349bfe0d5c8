"""What the sync and async clients share: the credential, token store, paths, signing, checks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.utils.translation import gettext as _

from django_apiauth.clients.check import CheckResult
from django_apiauth.conf import api_settings
from django_apiauth.exceptions import ApiAuthError, ConfigurationError, TokenError
from django_apiauth.messages import translated
from django_apiauth.tokens.store import TokenStore
from django_apiauth.transport.endpoints import check_host_is_allowed

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["ClientBase", "failure_detail"]

#: The ``auth=`` values of ``request()``: the shared bearer token, the dashboard login, nothing.
AUTH_MODES = ("token", "basic", "none")
T = TypeVar("T")


class ClientBase:
    """The surface both clients have: ``url()``, ``sign()``, the token store, auth modes."""

    def __init__(self, credential: ApiCredential) -> None:
        self.credential = credential
        self.name = credential.name
        self._store: TokenStore | None = None
        self._building = threading.RLock()  # built once even when threads race for them

    def __repr__(self) -> str:
        return f"<{type(self).__name__} credential={self.name!r}>"

    def _once(self, attribute: str, build: Callable[[], T]) -> T:
        # Callers test the attribute first: the warm path takes no lock.
        with self._building:
            if getattr(self, attribute) is None:
                setattr(self, attribute, build())
            return getattr(self, attribute)

    @property
    def store(self) -> TokenStore:
        """The token store of this credential: the same for the sync and the async client."""
        if self._store is None:
            return self._once("_store", lambda: TokenStore(self.credential))
        return self._store

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

    def check_auth_mode(self, mode: object) -> None:
        """``ValueError`` unless ``mode`` is one of :data:`AUTH_MODES`."""
        if mode in AUTH_MODES:
            return
        # Only a string is echoed: users of requests and httpx pass ``auth=(user, password)``.
        shown = repr(mode) if isinstance(mode, str) else f"a {type(mode).__name__}"
        raise ValueError(
            f"auth must be one of {', '.join(AUTH_MODES)} for the client of {self.name!r}, "
            f"not {shown}"
        )

    def sign(self, payload: dict[str, Any], *, expires_in: Any = None) -> str:
        """An HS256 JWT of ``payload`` signed with the credential's signature secret."""
        from django_apiauth import signing

        secret = self.credential.signature_secret
        if not secret:
            raise ConfigurationError(
                f"credential {self.name!r} has no signature secret; set it to sign parameters"
            )
        return signing.sign(payload, secret, expires_in=expires_in)

    def _run_check(self, get_status: Callable[[str], tuple[int | None, str | None]]) -> CheckResult:
        """``check()``, for both clients: ``get_status(path)`` is ``(status, None)`` or
        ``(None, error name)``."""
        started = time.perf_counter()
        method = "token"

        def result(ok: bool, status: int | None, detail: str) -> CheckResult:
            latency = round((time.perf_counter() - started) * 1000, 1)
            return CheckResult(
                ok, method, status, latency, detail, name=self.name, pk=self.credential.pk
            )

        try:
            check_path = api_settings.validated("CHECK_PATH")
            method = f"token+GET {check_path}" if check_path else "token"
            # The store is built here: a bad endpoint is a failed check, not an error.
            token = self.store.fetch_fresh()
            if not check_path:
                lifetime = _("token valid for %(seconds).0fs") % {"seconds": token.lifetime}
                return result(True, 200, lifetime)
            status, failure = get_status(check_path)
        except ApiAuthError as err:  # token refused, configuration, HTTPS policy, secrets
            return result(False, getattr(err, "status_code", None), failure_detail(self.name, err))
        facts = {"path": check_path, "status": status, "error": failure}
        if failure is not None:
            return result(False, None, _("GET %(path)s failed (%(error)s)") % facts)
        if 200 <= status < 300:
            return result(True, status, _("token valid; GET %(path)s answered %(status)d") % facts)
        return result(
            False, status, _("token valid; GET %(path)s answered HTTP %(status)d") % facts
        )


def failure_detail(name: str, err: ApiAuthError) -> str:
    """Why a check failed, wholly in the active language: never the provider's words,
    nor an English text (logged instead); the rule is in docs/admin.md."""
    status, code = getattr(err, "status_code", None), getattr(err, "error", None)
    if hasattr(err, "template"):
        return translated(err)
    if code:  # InvalidCredentialsError: a short code of safe characters
        return _("the provider refused the API key and secret (%(code)s)") % {"code": code}
    if status == 200:  # MalformedTokenResponseError
        return _("the token endpoint answered without a usable token")
    if status is not None:
        return _("the token endpoint answered HTTP %(status)d") % {"status": status}
    logging.getLogger(__name__).warning("connectivity check of %r failed: %s", name, err)
    if isinstance(err, TokenError):
        return _("the token endpoint could not be reached (the server log says why)")
    return _("the check could not run (%(type)s; the server log says why)") % {
        "type": type(err).__name__
    }
