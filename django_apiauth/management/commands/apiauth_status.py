"""``manage.py apiauth_status [NAME ...] [--json]``: endpoint, tokens, blocks, last check,
notifications; exit 1 when a credential is blocked, failing or unreadable (a probe)."""

import json
import math
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from django_apiauth import clock
from django_apiauth.addresses import without_userinfo
from django_apiauth.exceptions import ApiAuthError, CredentialNotFound
from django_apiauth.models import ApiCredential, NotificationDelivery
from django_apiauth.tokens.store import TokenStore

__all__ = ["Command"]


def _token(token):
    return token and {
        "expires_in": round(token.expires_at_wall - clock.current.wall()),
        "age": round(clock.current.monotonic() - token.issued_at),
        "fetch_seconds": round(token.latency, 3),
    }


def credential_status(credentials):
    """One dict per credential (what ``--json`` prints): nothing in it is secret."""
    rows = (
        NotificationDelivery.objects.filter(
            received_at__gte=timezone.now() - timedelta(hours=24),
            credential__in=[credential.name for credential in credentials],
        )
        .values_list("credential", "outcome")
        .annotate(count=Count("pk"))
    )
    report = {
        c.name: {"name": c.name, "active": c.is_active, "endpoint": None} for c in credentials
    }
    for credential in credentials:
        entry = report[credential.name]
        entry["last_check"] = credential.last_check_at and {
            "at": credential.last_check_at.isoformat(),
            "ok": credential.last_check_ok,
            "detail": credential.last_check_detail,
        }
        entry["notifications_24h"] = {}
        try:
            entry["endpoint"] = without_userinfo(credential.endpoint)
            here, shared, block = TokenStore(credential).peek()
        except ApiAuthError as err:  # our messages name the credential, never a secret
            entry["error"] = str(err)
            continue
        entry.update(token=_token(here), shared_token=_token(shared), block=None)
        if block is not None:
            entry["block"] = {
                "kind": (block.error or "invalid_client") if block.kind == "invalid" else "backoff",
                "status": block.status_code,
                "seconds_left": math.ceil(block.seconds_left()),
            }
    for name, outcome, count in rows:
        report[name]["notifications_24h"][outcome] = count
    return list(report.values())


def is_failing(entry):
    check = entry["last_check"] or {}
    return bool(entry.get("error") or entry.get("block") or check.get("ok") is False)


class Command(BaseCommand):
    @property
    def help(self):  # in the active language, when --help is printed
        return _(
            "Show, for the named credentials (or every active one), the endpoint, the token "
            "held in this process and in the shared cache, any block, the last connectivity "
            "check and the notifications of the last 24 hours. Exits with status 1 if a "
            "credential is blocked or its last check failed."
        )

    def add_arguments(self, parser):
        parser.add_argument(
            "names", nargs="*", metavar="NAME", help=_("Names of the credentials to show.")
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help=_("Print JSON instead of text.")
        )

    def handle(self, *args, names, as_json, **options):
        try:
            credentials = ApiCredential.objects.select(names, active_only=not names)
        except CredentialNotFound as err:
            raise CommandError(str(err)) from None
        report = credential_status(credentials)
        if as_json:
            self.stdout.write(json.dumps(report, indent=2))
        for entry in [] if as_json else report:
            self._write(entry)
        if failing := [entry["name"] for entry in report if is_failing(entry)]:
            message = _("blocked or failing: %(names)s") % {"names": ", ".join(failing)}
            raise CommandError(message, returncode=1)

    def _write(self, entry):
        def token(value):
            text = _("expires in %(expires_in)s s, age %(age)s s, fetched in %(fetch_seconds)s s")
            return _("none") if value is None else text % value

        check, block = entry["last_check"], entry.get("block")
        lines = [f"{entry['name']}  {entry['endpoint'] or ''}"]
        if "error" in entry:
            lines.append(_("error: %(error)s") % entry)
        else:
            lines.append(_("token in this process: %(token)s") % {"token": token(entry["token"])})
            shared = token(entry["shared_token"])
            lines.append(_("token in the shared cache: %(token)s") % {"token": shared})
            if block:
                lines.append(
                    _("blocked: %(kind)s (HTTP %(status)s), %(seconds_left)s s left") % block
                )
        lines.append(
            _("last check: %(at)s %(detail)s") % check if check else _("last check: never")
        )
        outcomes = sorted(entry["notifications_24h"].items())
        counts = ", ".join(f"{NotificationDelivery.Outcome(o).label} {n}" for o, n in outcomes)
        lines.append(
            _("notifications in the last 24 h: %(counts)s") % {"counts": counts or _("none")}
        )
        self.stdout.write("\n  ".join(lines))
