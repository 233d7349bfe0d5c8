"""The provider's endpoints, as PROVIDER.md describes them.

Every view reads the state the server attached to the request, applies the
injected delay and faults of its kind, then does its job. Errors use the OAuth 2
shape (``{"error": ..., "error_description": ...}``).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import jwt
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .credentials import auth_scheme, parse_basic, parse_bearer
from .notifications import deliver, payment_notification, tamper, transfer_notification
from .state import Account, RequestRecord, SandboxState

logger = logging.getLogger("sandbox")

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def get_state(request: HttpRequest) -> SandboxState:
    return request.sandbox_state  # type: ignore[attr-defined]


def oauth_error(
    error: str, status: int, description: str = "", *, challenge: str = ""
) -> JsonResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    response = JsonResponse(body, status=status)
    if challenge:
        response["WWW-Authenticate"] = challenge
    return response


def no_store(response: HttpResponse) -> HttpResponse:
    # RFC 6749 §5.1: answers that carry a token must not be cached.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def provider_endpoint(kind: str, name: str) -> Callable:
    """Delay, injected faults and the request log around a view of ``kind``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            state = get_state(request)
            delay = state.delay_for(kind)
            if delay:
                time.sleep(delay)
            fault = state.take_fault(kind)
            if fault is not None:
                response = HttpResponse(
                    fault.body, status=fault.status, content_type=fault.content_type
                )
                if fault.retry_after is not None:
                    response["Retry-After"] = str(fault.retry_after)
                logger.info("%s: injected %s", name, fault.status)
            else:
                response = view(request, state, *args, **kwargs)
            header = request.headers.get("Authorization", "")
            state.record(
                RequestRecord(
                    endpoint=name,
                    method=request.method or "",
                    status=response.status_code,
                    auth_scheme=auth_scheme(header),
                    user_agent=request.headers.get("User-Agent", ""),
                )
            )
            return response

        return wrapper

    return decorator


def masked(value: str) -> str:
    # Logs name an account by the last characters of its key, never more.
    return "…" + value[-4:]


# -- Method 1: access token ---------------------------------------------------


@require_POST
@provider_endpoint("token", "token")
def token(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """``POST /api/token``: Basic(api_key, api_secret) + ``grant_type=client_credentials``."""
    state.count("token_requests")
    challenge = 'Basic realm="sandbox"'
    credentials = parse_basic(request.headers.get("Authorization", ""))
    if credentials is None:
        state.count("token_rejected")
        return oauth_error(
            "invalid_client",
            401,
            "HTTP Basic client authentication is required",
            challenge=challenge,
        )
    api_key, api_secret = credentials
    account = state.find_account(api_key=api_key, api_secret=api_secret)
    if account is None:
        state.count("token_rejected")
        logger.info("token: invalid_client")
        return oauth_error("invalid_client", 401, challenge=challenge)
    if request.content_type != FORM_CONTENT_TYPE:
        state.count("token_rejected")
        return oauth_error("invalid_request", 400, f"the body must be {FORM_CONTENT_TYPE}")
    grant_type = request.POST.get("grant_type")
    if not grant_type:
        state.count("token_rejected")
        return oauth_error("invalid_request", 400, "grant_type is missing")
    if grant_type != "client_credentials":
        state.count("token_rejected")
        return oauth_error("unsupported_grant_type", 400)
    access_token, lifetime = state.issue_token(account)
    logger.info("token: issued for %s, expires in %ss", masked(account.api_key), lifetime)
    return no_store(
        JsonResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime})
    )


def bearer_account(request: HttpRequest, state: SandboxState) -> Account | HttpResponse:
    state.count("bearer_calls")
    access_token = parse_bearer(request.headers.get("Authorization", ""))
    account = state.account_for_token(access_token) if access_token else None
    if account is None:
        state.count("bearer_rejected")
        return oauth_error(
            "invalid_token",
            401,
            "the access token is missing, expired or revoked",
            challenge='Bearer realm="sandbox", error="invalid_token"',
        )
    return account


def merchant_body(account: Account) -> dict[str, str]:
    return {"merchant_uid": account.merchant_uid, "name": account.name}


@require_GET
@provider_endpoint("api", "merchant")
def merchant(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """``GET /api/merchant``: a bearer-protected endpoint (the connectivity check's target)."""
    account = bearer_account(request, state)
    if isinstance(account, HttpResponse):
        return account
    return JsonResponse(merchant_body(account))


@require_http_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
@provider_endpoint("api", "echo")
def echo(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """``/api/echo``: bearer-protected; answers the method, query and body it received."""
    account = bearer_account(request, state)
    if isinstance(account, HttpResponse):
        return account
    return JsonResponse(
        {
            "merchant_uid": account.merchant_uid,
            "method": request.method,
            "query": request.GET.dict(),
            "body": request.body.decode("utf-8", "replace"),
            "content_type": request.content_type,
        }
    )


# -- Method 2: basic authentication (dashboard login) -------------------------


@require_GET
@provider_endpoint("api", "dashboard")
def dashboard_merchant(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """``GET /api/dashboard/merchant``: HTTP Basic with the dashboard login."""
    state.count("basic_calls")
    credentials = parse_basic(request.headers.get("Authorization", ""))
    account = None
    if credentials is not None:
        username, password = credentials
        account = state.find_account(dashboard_username=username, dashboard_password=password)
    if account is None:
        state.count("basic_rejected")
        return oauth_error("invalid_client", 401, challenge='Basic realm="dashboard"')
    return JsonResponse(
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


@require_POST
@provider_endpoint("api", "purchase_link")
def purchase_link(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """``POST /api/purchase_link/?signature=<jwt>``: parameters in an HS256 JWT."""
    state.count("purchase_link_requests")
    signature = request.GET.get("signature")
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
    return JsonResponse(
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


# -- Sandbox controls (not part of the provider's API) ------------------------


@require_GET
def counters(request: HttpRequest) -> HttpResponse:
    """``GET /sandbox/counters``: the counters, for people and browser tests."""
    state = get_state(request)
    return JsonResponse({"counters": state.snapshot(), "live_tokens": state.live_tokens})


@csrf_exempt
@require_POST
def revoke(request: HttpRequest) -> HttpResponse:
    """``POST /sandbox/revoke``: forget every issued token."""
    return JsonResponse({"revoked": get_state(request).revoke_tokens()})


@csrf_exempt
@require_POST
def notify(request: HttpRequest) -> HttpResponse:
    """``POST /sandbox/notify`` with JSON ``{"url", "scheme": "hash"|"jwt", "tamper": bool}``.

    Sends a signed notification of the first account to the merchant's ``url``
    and answers with the status the merchant returned.
    """
    state = get_state(request)
    try:
        options = json.loads(request.body or b"{}")
        url = options["url"]
    except (ValueError, KeyError, TypeError):
        return oauth_error("invalid_request", 400, 'expected JSON {"url": ...}')
    scheme = options.get("scheme", "hash")
    builder = {"hash": payment_notification, "jwt": transfer_notification}.get(scheme)
    if builder is None:
        return oauth_error("invalid_request", 400, "scheme must be hash or jwt")
    notification = builder(state.account)
    if options.get("tamper"):
        notification = tamper(notification)
    answer = deliver(url, notification)
    state.count("notifications_sent")
    return JsonResponse({"merchant_status": answer.status_code})
