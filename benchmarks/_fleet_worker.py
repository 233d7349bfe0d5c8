"""Per-thread callers for ``bench_token_fleet.py``: the idiomatic OAuth 2 client libraries.

Each builder gets the fleet config and returns a zero-argument call that does
one ``GET /api/merchant`` and returns the HTTP status. These run inside the
spawned worker processes of ``django_apiauth.testing.fleet`` (the same harness as
the live tests), one session per thread, the way each library documents it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def authlib_caller(config: dict[str, Any]) -> Callable[[], int]:
    """authlib ``OAuth2Session`` with ``grant_type="client_credentials"``: it re-fetches
    an expired token by itself (``ensure_active_token``)."""
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the sandbox is http:// on loopback
    from authlib.integrations.requests_client import OAuth2Session

    credential = config["credential"]
    base = credential["base_url"]
    session = OAuth2Session(
        credential["api_key"],
        credential["api_secret"],
        token_endpoint=base + "/api/token",
        grant_type="client_credentials",
        leeway=config["leeway"],
    )
    session.fetch_token()
    return lambda: session.get(base + "/api/merchant", timeout=10).status_code


def requests_oauthlib_caller(config: dict[str, Any]) -> Callable[[], int]:
    """requests-oauthlib ``OAuth2Session`` with a ``BackendApplicationClient``; on
    ``TokenExpiredError`` fetch a new token (its documented client-credentials flow)."""
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    from oauthlib.oauth2 import BackendApplicationClient, TokenExpiredError
    from requests.auth import HTTPBasicAuth
    from requests_oauthlib import OAuth2Session

    credential = config["credential"]
    base = credential["base_url"]
    session = OAuth2Session(client=BackendApplicationClient(client_id=credential["api_key"]))

    def fetch() -> None:
        session.fetch_token(
            token_url=base + "/api/token",
            auth=HTTPBasicAuth(credential["api_key"], credential["api_secret"]),
        )

    fetch()

    def call() -> int:
        try:
            return session.get(base + "/api/merchant", timeout=10).status_code
        except TokenExpiredError:
            fetch()
            return session.get(base + "/api/merchant", timeout=10).status_code

    return call
