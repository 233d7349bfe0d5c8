"""The provider's memory: accounts, issued tokens, counters, faults and extra endpoints.

One ``SandboxState`` is what both faces of the test kit serve: the in-process
fake (``FakeProvider``, through ``responses``) and the live loopback server
(``start_sandbox()``). Everything is guarded by one lock because the live
server answers each request in its own thread. Nothing is persisted.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Account", "RequestRecord", "SandboxState"]

#: Lifetime of an access token, as the provider documents it.
DEFAULT_TOKEN_LIFETIME = 600

#: Kinds of endpoint that faults and delays can target.
KINDS = ("token", "api")


@dataclass(frozen=True)
class Account:
    """One merchant account of the provider and the secrets it was given."""

    api_key: str
    api_secret: str
    dashboard_username: str
    dashboard_password: str
    signature_secret: str
    merchant_uid: str
    name: str = "Sandbox merchant"

    def __repr__(self) -> str:
        # Reprs land in test failure output and logs: never show a secret there.
        return f"<Account merchant_uid={self.merchant_uid!r} name={self.name!r}>"

    @classmethod
    def generate(cls, **overrides: str) -> Account:
        """A new account with random secrets (``overrides`` fix any field)."""
        suffix = secrets.token_hex(4)
        values = {
            "api_key": f"sbx_key_{secrets.token_hex(12)}",
            "api_secret": secrets.token_urlsafe(32),
            "dashboard_username": f"merchant-{suffix}@example.com",
            "dashboard_password": secrets.token_urlsafe(16),
            "signature_secret": secrets.token_urlsafe(32),
            "merchant_uid": f"mer_{suffix}",
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class IssuedToken:
    api_key: str
    expires_at: float


@dataclass(frozen=True)
class InjectedResponse:
    """What the next faulty call answers instead of doing its job.

    With ``exception`` the call fails as a network failure would: the
    in-process fake raises it, the live server drops the connection unanswered.
    """

    status: int = 503
    retry_after: int | None = None
    body: str = '{"error": "temporarily_unavailable"}'
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    exception: BaseException | None = None


@dataclass(frozen=True)
class ExtraEndpoint:
    """An endpoint a test added: answers ``body`` when ``auth`` passes, 401 otherwise."""

    method: str
    path: str
    auth: str  # "bearer", "basic" or "none"
    status: int
    body: str
    content_type: str


@dataclass(frozen=True)
class RequestRecord:
    """A request as the sandbox saw it, without any credential in it."""

    endpoint: str
    method: str
    status: int
    auth_scheme: str  # "basic", "bearer", "" (none) or "other"
    user_agent: str


@dataclass
class SandboxState:
    """Thread-safe in-memory state of one sandbox provider.

    ``account`` is the first account (the one demos and tests usually use);
    ``counters`` counts requests per outcome (``token_requests`` — every request
    that reached the token endpoint, injected failures included —
    ``tokens_issued``, ``token_rejected``, ``bearer_calls`` — every call to a
    bearer endpoint, refused ones included — ``bearer_rejected``,
    ``basic_calls``, ``basic_rejected``, ``purchase_link_requests``,
    ``purchase_links``, ``purchase_links_rejected``, ``notifications_sent``,
    ``notifications_failed``, ``injected_failures``, ``tokens_revoked``).
    ``before_token_request`` is called with each token request before it is
    answered, outside the lock (to delay or block it).
    """

    accounts: list[Account] = field(default_factory=lambda: [Account.generate()])
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME
    clock: Callable[[], float] = time.monotonic
    base_url: str = ""
    token_path: str = "/api/token"
    counters: Counter = field(default_factory=Counter)
    requests: deque = field(default_factory=lambda: deque(maxlen=1000))
    _tokens: dict[str, IssuedToken] = field(default_factory=dict, repr=False)
    _issued: deque = field(default_factory=lambda: deque(maxlen=10_000), repr=False)
    _faults: dict[str, deque] = field(
        default_factory=lambda: {kind: deque() for kind in KINDS}, repr=False
    )
    _delays: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 0.0))
    before_token_request: Callable[[Any], None] | None = field(default=None, repr=False)
    _extra: dict[tuple[str, str], ExtraEndpoint] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __repr__(self) -> str:
        return f"<SandboxState accounts={len(self.accounts)} counters={dict(self.counters)}>"

    # -- accounts ---------------------------------------------------------

    @property
    def account(self) -> Account:
        return self.accounts[0]

    def add_account(self, **overrides: str) -> Account:
        account = Account.generate(**overrides)
        with self._lock:
            self.accounts.append(account)
        return account

    def update_account(self, account: Account, **changes: str) -> Account:
        """Replace ``account``'s fields (e.g. a rotated secret); returns the new account."""
        updated = replace(account, **changes)
        with self._lock:
            self.accounts[self.accounts.index(account)] = updated
        return updated

    def find_account(self, **match: str) -> Account | None:
        """The account whose fields equal ``match`` (compared in constant time)."""
        with self._lock:
            candidates = list(self.accounts)
        for account in candidates:
            if all(
                secrets.compare_digest(getattr(account, name).encode(), value.encode())
                for name, value in match.items()
            ):
                return account
        return None

    # -- tokens -----------------------------------------------------------

    def issue_token(self, account: Account) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        lifetime = self.token_lifetime
        with self._lock:
            self._tokens[token] = IssuedToken(account.api_key, self.clock() + lifetime)
            self._issued.append(token)
            self.counters["tokens_issued"] += 1
        return token, lifetime

    def account_for_token(self, token: str) -> Account | None:
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None:
                return None
            if issued.expires_at <= self.clock():
                del self._tokens[token]
                return None
        return self.find_account(api_key=issued.api_key)

    def is_live(self, token: str) -> bool:
        """Whether ``token`` was issued, is not revoked and has not expired."""
        return self.account_for_token(token) is not None

    def issued_token_values(self) -> list[str]:
        """Every token issued so far, revoked ones included (to search outputs for leaks)."""
        with self._lock:
            return list(self._issued)

    def revoke_tokens(self) -> int:
        """Forget every issued token (the next bearer call gets a 401); returns how many."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            self.counters["tokens_revoked"] += count
        return count

    @property
    def live_tokens(self) -> int:
        with self._lock:
            now = self.clock()
            return sum(1 for issued in self._tokens.values() if issued.expires_at > now)

    # -- faults and delays ------------------------------------------------

    def fail_next(
        self,
        kind: str = "token",
        count: int = 1,
        *,
        status: int = 503,
        retry_after: int | None = None,
        body: str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        exception: BaseException | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``kind`` ("token" or "api") answer ``status``.

        ``headers`` are added to the answer; with ``exception`` (e.g.
        ``requests.ConnectTimeout()``) the calls fail as on a broken network.
        """
        self._check_kind(kind)
        response = InjectedResponse(
            status=status,
            retry_after=retry_after,
            body=InjectedResponse.body if body is None else body,
            content_type=content_type,
            headers=tuple((headers or {}).items()),
            exception=exception,
        )
        with self._lock:
            self._faults[kind].extend([response] * count)

    def take_fault(self, kind: str) -> InjectedResponse | None:
        with self._lock:
            if not self._faults[kind]:
                return None
            self.counters["injected_failures"] += 1
            return self._faults[kind].popleft()

    def set_delay(self, seconds: float, kind: str | None = None) -> None:
        """Delay every answer of ``kind`` (both kinds when ``None``) by ``seconds``."""
        with self._lock:
            for each in (kind,) if kind else KINDS:
                self._check_kind(each)
                self._delays[each] = float(seconds)

    def delay_for(self, kind: str) -> float:
        with self._lock:
            return self._delays[kind]

    # -- endpoints a test adds ---------------------------------------------

    def add_endpoint(
        self,
        method: str,
        path: str,
        *,
        auth: str = "bearer",
        status: int = 200,
        body: str = "",
        content_type: str = "text/plain",
    ) -> ExtraEndpoint:
        """Serve ``method path``: ``body`` to a caller that passes ``auth``, 401 otherwise."""
        if auth not in ("bearer", "basic", "none"):
            raise ValueError(f"unknown auth {auth!r}; expected bearer, basic or none")
        if not path.startswith("/"):
            raise ValueError(f"the path must start with '/': {path!r}")
        endpoint = ExtraEndpoint(method.upper(), path, auth, status, body, content_type)
        with self._lock:
            self._extra[(endpoint.method, path)] = endpoint
        return endpoint

    def extra_endpoint(self, method: str, path: str) -> ExtraEndpoint | None:
        with self._lock:
            return self._extra.get((method.upper(), path))

    def extra_paths(self) -> set[str]:
        with self._lock:
            return {path for _, path in self._extra}

    # -- bookkeeping ------------------------------------------------------

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.counters[name] += amount

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def snapshot(self) -> dict[str, int]:
        """A copy of the counters, safe to read while the server runs."""
        with self._lock:
            return dict(self.counters)

    def reset(self) -> None:
        """Clear counters, tokens, faults, delays and the request log (accounts stay)."""
        with self._lock:
            self.counters.clear()
            self.requests.clear()
            self._tokens.clear()
            self._issued.clear()
            for kind in KINDS:
                self._faults[kind].clear()
                self._delays[kind] = 0.0
            self.token_lifetime = DEFAULT_TOKEN_LIFETIME

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
