"""The provider's endpoints, as PROVIDER.md describes them, on plain request/answer values.

Neither ``responses`` nor an HTTP server appears here: :func:`answer` takes a
:class:`ProviderRequest` and the :class:`~.state.SandboxState` and returns a
:class:`ProviderAnswer`. The in-process fake and the live server are thin
adapters around it, so both faces of the test kit behave the same. Errors use
the OAuth 2 shape (``{"error": ..., "error_description": ...}``).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt

from .credentials import auth_scheme, parse_basic, parse_bearer
from .notifications import send_notification
from .state import Account, RequestRecord, SandboxState

__all__ = [
    "ROUTES",
    "ProviderAnswer",
    "ProviderRequest",
    "View",
    "answer",
    "counters",
    "echo",
    "extra",
    "masked",
    "merchant",
    "purchase_link",
    "route",
    "token",
]

logger = logging.getLogger("django_apiauth.testing")

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class ProviderRequest:
    """One request as the provider sees it (header names are matched case-insensitively)."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")

    @property
    def content_type(self) -> str:
        return self.header("Content-Type").partition(";")[0].strip().lower()

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class ProviderAnswer:
    """What the provider answers; ``exception`` set means "fail like the network"."""

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    exception: BaseException | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, **headers: str) -> ProviderAnswer:
        return cls(status, json.dumps(data), {"Content-Type": "application/json", **headers})


def oauth_error(error: str, status: int, description: str = "", challenge: str = ""):
    body = {"error": error}
    if description:
        body["error_description"] = description
    headers = {"WWW-Authenticate": challenge} if challenge else {}
    return ProviderAnswer.json(body, status, **headers)


def masked(value: str) -> str:
    # Logs name an account by the last characters of its key, never more.
    return "…" + value[-4:]


# -- Method 1: access token ---------------------------------------------------


def token(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    """``POST /api/token``: Basic(api_key, api_secret) + ``grant_type=client_credentials``."""
    challenge = 'Basic realm="sandbox"'
    credentials = parse_basic(request.header("Authorization"))
    account = None
    if credentials is not None:
        account = state.find_account(api_key=credentials[0], api_secret=credentials[1])
    if account is None:
        state.count("token_rejected")
        logger.info("token: invalid_client")
        description = "" if credentials else "HTTP Basic client authentication is required"
        return oauth_error("invalid_client", 401, description, challenge)
    if request.content_type != FORM_CONTENT_TYPE:
        state.count("token_rejected")
        return oauth_error("invalid_request", 400, f"the body must be {FORM_CONTENT_TYPE}")
    grant_type = request.form().get("grant_type")
    if not grant_type:
        state.count("token_rejected")
        return oauth_error("invalid_request", 400, "grant_type is missing")
    if grant_type != "client_credentials":
        state.count("token_rejected")
        return oauth_error("unsupported_grant_type", 400)
    access_token, lifetime = state.issue_token(account)
    logger.info("token: issued for %s, expires in %ss", masked(account.api_key), lifetime)
    # RFC 6749 §5.1: answers that carry a token must not be cached.
    return ProviderAnswer.json(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime},
        **{"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


# -- Bearer and Basic endpoints -------------------------------------------------


def bearer_account(request: ProviderRequest, state: SandboxState) -> Account | ProviderAnswer:
    state.count("bearer_calls")
    access_token = parse_bearer(request.header("Authorization"))
    account = state.account_for_token(access_token) if access_token else None
    if account is None:
        state.count("bearer_rejected")
        return oauth_error(
            "invalid_token",
            401,
            "the access token is missing, expired or revoked",
            'Bearer realm="sandbox", error="invalid_token"',
        )
    return account


def basic_account(request: ProviderRequest, state: SandboxState) -> Account | ProviderAnswer:
    state.count("basic_calls")
    credentials = parse_basic(request.header("Authorization"))
    account = None
    if credentials is not None:
        username, password = credentials
        account = state.find_account(dashboard_username=username, dashboard_password=password)
    if account is None:
        state.count("basic_rejected")
        return oauth_error("invalid_client", 401, challenge='Basic realm="dashboard"')
    return account


def merchant_body(account: Account) -> dict[str, str]:
    return {"merchant_uid": account.merchant_uid, "name": account.name}


def merchant(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    """``GET /api/merchant``: a bearer-protected endpoint (the connectivity check's target)."""
    account = bearer_account(request, state)
    if isinstance(account, ProviderAnswer):
        return account
    return ProviderAnswer.json(merchant_body(account))


def echo(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    """``/api/echo``: bearer-protected; answers the method, query and body it received."""
    account = bearer_account(request, state)
    if isinstance(account, ProviderAnswer):
        return account
    return ProviderAnswer.json(
        {
            "merchant_uid": account.merchant_uid,
            "method": request.method,
            "query": dict(request.query),
            "body": request.body.decode("utf-8", "replace"),
            "content_type": request.content_type,
        }
    )


def dashboard_merchant(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    """``GET /api/dashboard/merchant``: HTTP Basic with the dashboard login."""
    account = basic_account(request, state)
    if isinstance(account, ProviderAnswer):
        return account
    return ProviderAnswer.json(
        {**merchant_body(account), "dashboard_username": account.dashboard_username}
    )


# -- Method 3: signature ------------------------------------------------------


def decode_signature(token: str, state: SandboxState) -> tuple[Account, dict] | None:
    """The account whose signature secret verifies ``token``, and the claims."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    data = unverified.get("data") if isinstance(unverified, dict) else None
    merchant_uid = data.get("merchantUid") if isinstance(data, dict) else None
    if isinstance(merchant_uid, str):
        account = state.find_account(merchant_uid=merchant_uid)
        candidates = [account] if account else []
    else:
        candidates = list(state.accounts)
    for account in candidates:
        try:
            claims = jwt.decode(token, account.signature_secret, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            continue
        return account, claims
    return None


def purchase_link(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    """``POST /api/purchase_link/?signature=<jwt>``: parameters in an HS256 JWT."""
    state.count("purchase_link_requests")
    signature = request.query.get("signature")
    if not signature:
        state.count("purchase_links_rejected")
        return oauth_error("invalid_request", 400, "the signature parameter is missing")
    decoded = decode_signature(signature, state)
    if decoded is None:
        state.count("purchase_links_rejected")
        return oauth_error("invalid_signature", 403, "the signature does not verify")
    account, claims = decoded
    data = claims.get("data")
    if not isinstance(data, dict):
        state.count("purchase_links_rejected")
        return oauth_error("invalid_request", 400, "the signed payload has no data object")
    state.count("purchase_links")
    link_id = secrets.token_hex(8)
    return ProviderAnswer.json(
        {
            "uid": f"pl_{link_id}",
            "url": f"{state.base_url}/checkout/{link_id}",
            "merchant_uid": account.merchant_uid,
            "reference": data.get("reference", ""),
            "amount_cents": data.get("amountCents"),
            "settings": claims.get("purchase_link_settings", {}),
        },
        status=201,
    )


# -- Endpoints a test added -----------------------------------------------------


def extra(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    endpoint = state.extra_endpoint(request.method, request.path)
    if endpoint is None:
        return oauth_error("invalid_request", 405, f"{request.method} is not allowed here")
    if endpoint.auth != "none":
        check = bearer_account if endpoint.auth == "bearer" else basic_account
        refused = check(request, state)
        if isinstance(refused, ProviderAnswer):
            return refused
    return ProviderAnswer(endpoint.status, endpoint.body, {"Content-Type": endpoint.content_type})


# -- Sandbox controls (not part of the provider's API) ---------------------------


def counters(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    """``GET /sandbox/counters``: the counters, for people and browser tests."""
    return ProviderAnswer.json({"counters": state.snapshot(), "live_tokens": state.live_tokens})


def revoke(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    """``POST /sandbox/revoke``: forget every issued token."""
    return ProviderAnswer.json({"revoked": state.revoke_tokens()})


def notify(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    """``POST /sandbox/notify`` with JSON ``{"url", "scheme": "hash"|"jwt", "tamper": bool}``.

    Sends a signed notification of the first account to the merchant's ``url``
    (retrying non-2xx answers like the provider) and answers with the status
    the merchant returned last.
    """
    try:
        options = json.loads(request.body or b"{}")
        url = options["url"]
    except (ValueError, KeyError, TypeError):
        return oauth_error("invalid_request", 400, 'expected JSON {"url": ...}')
    try:
        delivery = send_notification(
            state, url, options.get("scheme", "hash"), tampered=bool(options.get("tamper"))
        )
    except ValueError as err:
        return oauth_error("invalid_request", 400, str(err))
    return ProviderAnswer.json({"merchant_status": delivery.status, "attempts": delivery.attempts})


# -- Routing --------------------------------------------------------------------

View = Callable[[ProviderRequest, SandboxState], ProviderAnswer]

#: path -> (allowed methods, fault/delay kind, request-log name, view)
ROUTES: dict[str, tuple[frozenset[str], str, str, View]] = {
    "/api/token": (frozenset({"POST"}), "token", "token", token),
    "/api/merchant": (frozenset({"GET"}), "api", "merchant", merchant),
    "/api/echo": (frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"}), "api", "echo", echo),
    "/api/dashboard/merchant": (frozenset({"GET"}), "api", "dashboard", dashboard_merchant),
    "/api/purchase_link/": (frozenset({"POST"}), "api", "purchase_link", purchase_link),
    # Controls: no faults, delays or request log ("control" is not a fault kind).
    "/sandbox/counters": (frozenset({"GET"}), "control", "counters", counters),
    "/sandbox/revoke": (frozenset({"POST"}), "control", "revoke", revoke),
    "/sandbox/notify": (frozenset({"POST"}), "control", "notify", notify),
}


def route(method: str, path: str, state: SandboxState) -> tuple[str, str, View] | None:
    """``(kind, name, view)`` serving ``method path``; ``None`` for an unknown path."""
    if path in state.extra_paths():
        return "api", path, extra
    known = ROUTES.get("/api/token" if path == state.token_path else path)
    if known is None:
        return None
    methods, kind, name, view = known
    if method.upper() not in methods:
        return kind, name, _not_allowed
    return kind, name, view


def _not_allowed(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    return oauth_error("invalid_request", 405, f"{request.method} is not allowed here")


def answer(request: ProviderRequest, state: SandboxState) -> ProviderAnswer:
    """The provider's answer to ``request``: delay, injected fault, then the endpoint."""
    found = route(request.method, request.path, state)
    if found is None:
        return oauth_error("not_found", 404, f"no endpoint {request.path}")
    kind, name, view = found
    if kind == "control":
        return view(request, state)
    if kind == "token":
        if state.before_token_request is not None:
            state.before_token_request(request)  # outside the lock: it may block or sleep
        state.count("token_requests")
    delay = state.delay_for(kind)
    if delay:
        time.sleep(delay)
    fault = state.take_fault(kind)
    if fault is not None:
        logger.info("%s: injected %s", name, fault.exception or fault.status)
        headers = {"Content-Type": fault.content_type, **dict(fault.headers)}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        result = ProviderAnswer(fault.status, fault.body, headers, fault.exception)
    else:
        result = view(request, state)
    state.record(
        RequestRecord(
            endpoint=name,
            method=request.method,
            status=result.status,
            auth_scheme=auth_scheme(request.header("Authorization")),
            user_agent=request.header("User-Agent"),
        )
    )
    return result
