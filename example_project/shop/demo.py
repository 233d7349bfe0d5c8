"""``manage.py demo``: the whole app at work against a local sandbox, as a short report.

Everything runs on loopback: the sandbox provider and the shop site are served
in background threads, the credential lives in the configured database. The
report never prints a secret or a token; it checks its own text for them
before it finishes.
"""

from __future__ import annotations

import io
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import WARNING, run_checks
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command

from django_apiauth.client import ApiClient, get_client
from django_apiauth.models import ApiCredential
from django_apiauth.testing import (
    Account,
    SandboxServer,
    deliver,
    payment_notification,
    start_sandbox,
    tamper,
    transfer_notification,
)

from .background import BackgroundServer
from .models import HandledNotification

#: Loggers that report the 401s and 403s the demo provokes on purpose.
NOISY_LOGGERS = ("django.request", "django.server", "django_apiauth.notifications")


class Report:
    """Writes the report and keeps a copy, so the demo can prove no secret was shown."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.copy = io.StringIO()
        self.failures = 0
        self.steps = 0

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.copy.write(text + "\n")

    def step(self, title: str) -> None:
        self.steps += 1
        self.line(f"\n{self.steps}. {title}")

    def check(self, ok: bool, text: str) -> bool:
        if not ok:
            self.failures += 1
        self.line(f"   [{'ok' if ok else 'FAILED'}] {text}")
        return ok


@contextmanager
def quiet_loggers(level: int = logging.ERROR) -> Iterator[None]:
    saved = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, old in saved.items():
            logging.getLogger(name).setLevel(old)


def save_credential(name: str, account: Account, base_url: str) -> ApiCredential:
    """Create or update the credential ``name`` with the sandbox account's secrets."""
    credential = ApiCredential.objects.filter(name=name).first() or ApiCredential(name=name)
    credential.base_url = base_url
    credential.api_key = account.api_key
    credential.api_secret = account.api_secret
    credential.dashboard_username = account.dashboard_username
    credential.dashboard_password = account.dashboard_password
    credential.signature_secret = account.signature_secret
    credential.merchant_uid = account.merchant_uid
    credential.is_active = True
    credential.full_clean()
    credential.save()
    return credential


def run_demo(out: TextIO, *, calls: int = 5) -> bool:
    """Run every step and write the report to ``out``; ``True`` when all of them passed."""
    started = time.perf_counter()
    report = Report(out)
    report.line("django-apiauth demo: a merchant site and a sandbox provider, all on this machine.")
    call_command("migrate", interactive=False, verbosity=0)
    database = settings.DATABASES["default"]
    report.line(f"\nSetup\n   database: migrated ({database['ENGINE'].rsplit('.', 1)[-1]})")
    for message in run_checks(include_deployment_checks=False):
        if message.level >= WARNING:
            report.line(f"   system check {message.id}: {message.msg}")

    sandbox = start_sandbox()
    shop = BackgroundServer(WSGIHandler())
    account = sandbox.account
    try:
        with quiet_loggers():
            credential = save_credential(settings.SHOP_CREDENTIAL, account, sandbox.url)
            report.line(f"   sandbox provider: {sandbox.url}   shop site: {shop.url}")
            report.line(
                f"   credential {credential.name!r}: API key {credential.masked_api_key()}, "
                "API secret, dashboard password and signature secret stored encrypted"
            )
            client = get_client(credential.name)
            show_token_reuse(report, client, sandbox, calls)
            show_refetch_after_401(report, client, sandbox)
            show_basic(report, client, account)
            show_purchase_link(report, client, sandbox, account)
            show_notifications(report, shop, account)
            show_connectivity(report, client, sandbox)
            client.close()
        secrets_shown = [
            value
            for value in (
                account.api_key,
                account.api_secret,
                account.dashboard_password,
                account.signature_secret,
                *sandbox.state.issued_token_values(),
            )
            if value in report.copy.getvalue()
        ]
    finally:
        shop.stop()
        sandbox.stop()
    report.step("Secrets")
    report.check(
        not secrets_shown,
        "no API key, secret, password or access token appears in this report "
        "(only the masked API key)",
    )
    show_metrics(report)
    elapsed = time.perf_counter() - started
    verdict = "all passed" if not report.failures else f"{report.failures} FAILED"
    report.line(f"\n{report.steps} steps, {verdict}, in {elapsed:.1f} s.")
    return report.failures == 0


def show_token_reuse(report: Report, client: ApiClient, sandbox: SandboxServer, calls: int) -> None:
    report.step("Access token: fetched once, reused")
    statuses = [client.get("/api/merchant").status_code for _ in range(calls)]
    counters = sandbox.state.snapshot()
    report.check(
        statuses == [200] * calls and counters.get("token_requests") == 1,
        f"{calls} bearer calls answered {sorted(set(statuses))}; "
        f"token requests seen by the provider: {counters.get('token_requests', 0)}",
    )


def show_refetch_after_401(report: Report, client: ApiClient, sandbox: SandboxServer) -> None:
    report.step("A revoked token heals itself")
    revoked = sandbox.state.revoke_tokens()
    before = sandbox.state.snapshot()
    status = client.get("/api/merchant").status_code
    after = sandbox.state.snapshot()
    rejected = after.get("bearer_rejected", 0) - before.get("bearer_rejected", 0)
    fetched = after.get("token_requests", 0) - before.get("token_requests", 0)
    report.check(
        status == 200 and rejected == 1 and fetched == 1,
        f"provider revoked {revoked} token(s); the next call got {rejected} 401, "
        f"fetched {fetched} new token and answered {status}",
    )


def show_basic(report: Report, client: ApiClient, account: Account) -> None:
    report.step("Basic authentication (dashboard login)")
    response = client.get("/api/dashboard/merchant", auth="basic")
    merchant = response.json().get("merchant_uid") if response.ok else None
    report.check(
        response.status_code == 200 and merchant == account.merchant_uid,
        f"GET /api/dashboard/merchant answered {response.status_code} for merchant {merchant}",
    )


def show_purchase_link(
    report: Report, client: ApiClient, sandbox: SandboxServer, account: Account
) -> None:
    report.step("Signature: a signed purchase link")
    payload = {
        "data": {
            "merchantUid": account.merchant_uid,
            "amountCents": 12000,
            "email": "buyer@example.com",
            "reference": "ORDER-1001",
        },
        "purchase_link_settings": {"lang": "en"},
    }
    signature = client.sign(payload, expires_in=300)
    response = client.post("/api/purchase_link/", params={"signature": signature}, auth="none")
    link = response.json().get("url", "") if response.status_code == 201 else ""
    report.check(
        response.status_code == 201,
        f"POST /api/purchase_link/?signature=<HS256 JWT> answered {response.status_code}: {link}",
    )
    forged = client.sign({**payload, "data": {**payload["data"], "amountCents": 1}})
    header, body, _ = forged.split(".")
    _, _, mac = signature.split(".")
    response = client.post(
        "/api/purchase_link/", params={"signature": f"{header}.{body}.{mac}"}, auth="none"
    )
    report.check(
        response.status_code == 403,
        "the same link with a changed amount and the old signature answered "
        f"{response.status_code}",
    )


def show_notifications(report: Report, shop: BackgroundServer, account: Account) -> None:
    report.step("Notifications: the sandbox sends, the shop's receiver handles each once")
    routes = f"{shop.url}/provider/notifications/{settings.SHOP_CREDENTIAL}"
    payment_id, transfer_id = f"pay_{secrets.token_hex(6)}", f"tri_{secrets.token_hex(8)}"
    cases = [
        (
            "payment (hash scheme)",
            f"{routes}/payment/",
            payment_id,
            payment_notification(account, id=payment_id),
        ),
        (
            "transfer (JWT scheme)",
            f"{routes}/transfer/",
            transfer_id,
            transfer_notification(account, transfer_order_item_uid=transfer_id),
        ),
    ]
    for name, url, notification_id, body in cases:
        status = deliver(url, body, attempts=1).status
        calls = receiver_calls(notification_id)
        report.check(
            status == 200 and calls == 1,
            f"{name} to {urlsplit(url).path}: answered {status}, "
            f"handed to the receiver ({plural(calls, 'call')})",
        )
    for _name, url, notification_id, body in cases:
        status = deliver(url, body, attempts=1).status
        calls = receiver_calls(notification_id)
        report.check(
            status == 200 and calls == 1,
            f"redelivery of {notification_id} answered {status}, "
            f"receiver not called again ({plural(calls, 'call')})",
        )
    for name, url, notification_id, body in cases:
        status = deliver(url, tamper(body), attempts=1).status
        calls = receiver_calls(notification_id)
        report.check(
            status == 403 and calls == 1,
            f"tampered {name}: answered {status} (refused), receiver not called "
            f"(still {plural(calls, 'call')})",
        )


def receiver_calls(notification_id: str) -> int:
    """How many times the shop's receiver handled the notification ``notification_id``."""
    return HandledNotification.objects.filter(notification_id=notification_id).count()


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def show_connectivity(report: Report, client: ApiClient, sandbox: SandboxServer) -> None:
    report.step('Connectivity check (what the admin\'s "Test connectivity" runs)')
    result = client.check()
    report.check(
        result.ok,
        f"{result.method}: {'ok' if result.ok else 'failed'}, HTTP {result.status_code}, "
        f"{result.latency_ms:.0f} ms ({result.detail})",
    )
    wrong = ApiCredential(name="demo-wrong-secret", base_url=sandbox.url)
    wrong.api_key = sandbox.account.api_key
    wrong.api_secret = "not-the-secret"  # deliberately wrong
    wrong.save()
    try:
        result = ApiClient(wrong).check()
    finally:
        wrong.delete()
    report.check(
        not result.ok and result.status_code == 401,
        f"with a wrong API secret: {'ok' if result.ok else 'failed'}, HTTP {result.status_code} "
        f"({result.detail})",
    )


def show_metrics(report: Report) -> None:
    """The OpenTelemetry metrics the steps above produced (when the SDK is installed)."""
    from . import telemetry

    rows = telemetry.metric_rows()
    if not rows:
        return
    report.line("\nOpenTelemetry metrics (docs/monitoring.md)")
    width = max(len(name) for name, _, _ in rows)
    for name, attributes, value in rows:
        report.line(f"   {name:<{width}}  {value:>14}  {attributes}")
