"""``manage.py apiauth_sandbox [addrport]``: the sandbox provider, standalone, until Ctrl-C."""

from __future__ import annotations

import os
import re

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from django_apiauth.testing import Account, SandboxState, start_sandbox

__all__ = ["Command"]

#: Account field -> environment variable. The optional fields get a random value
#: (which nobody knows, so that login is unusable).
REQUIRED = ("api_key", "api_secret")
OPTIONAL = ("dashboard_username", "dashboard_password", "signature_secret", "merchant_uid")
ENVIRONMENT = {name: f"APIAUTH_SANDBOX_{name.upper()}" for name in (*REQUIRED, *OPTIONAL)}
LIFETIME_VARIABLE = "APIAUTH_SANDBOX_TOKEN_LIFETIME"
DEFAULT_ADDRPORT = "127.0.0.1:8001"
ADDRPORT = re.compile(r"^(?:(?P<host>[\w.-]+|\[[0-9a-fA-F:]+\]):)?(?P<port>\d{1,5})$")


def parse_addrport(value: str) -> tuple[str, int]:
    """``"8001"``, ``"127.0.0.1:8001"`` or ``"[::1]:8001"`` -> ``(host, port)``."""
    match = ADDRPORT.match(value)
    if match is None or int(match["port"]) > 65535:
        raise CommandError(
            _("%(value)r is not a port or address:port (e.g. 127.0.0.1:8001)") % {"value": value}
        )
    return (match["host"] or "127.0.0.1").strip("[]"), int(match["port"])


def account_from_environment(environ: os._Environ | dict[str, str]) -> Account:
    if missing := [ENVIRONMENT[name] for name in REQUIRED if not environ.get(ENVIRONMENT[name])]:
        raise CommandError(
            _(
                "set %(variables)s to the account the sandbox should accept "
                "(they are read from the environment, never from the command line)"
            )
            % {"variables": " and ".join(missing)}
        )
    values = {name: environ[var] for name, var in ENVIRONMENT.items() if environ.get(var)}
    return Account.generate(**values)


def token_lifetime(environ: os._Environ | dict[str, str]) -> int:
    raw = environ.get(LIFETIME_VARIABLE, "600")
    try:
        lifetime = int(raw)
    except ValueError:
        lifetime = 0
    if lifetime < 1:
        raise CommandError(
            _("%(variable)s must be a positive number of seconds, not %(value)r")
            % {"variable": LIFETIME_VARIABLE, "value": raw}
        )
    return lifetime


class Command(BaseCommand):
    requires_system_checks = []

    @property
    def help(self):  # in the active language, when --help is printed
        return _(
            "Run the sandbox provider (token, bearer, dashboard and purchase-link endpoints) "
            "on addrport until Ctrl-C. The account comes from the environment: "
            "%(variables)s (%(required)s required), and %(lifetime)s (seconds, default 600)."
        ) % {
            "variables": ", ".join(ENVIRONMENT.values()),
            "required": " and ".join(ENVIRONMENT[n] for n in REQUIRED),
            "lifetime": LIFETIME_VARIABLE,
        }

    def add_arguments(self, parser):
        parser.add_argument(
            "addrport",
            nargs="?",
            default=DEFAULT_ADDRPORT,
            help=_("Port or address:port to listen on (default %(addrport)s; 0 = any free).")
            % {"addrport": DEFAULT_ADDRPORT},
        )

    def handle(self, *args, **options):
        host, port = parse_addrport(options["addrport"])
        account = account_from_environment(os.environ)
        state = SandboxState(accounts=[account], token_lifetime=token_lifetime(os.environ))
        try:
            server = start_sandbox(host, port, state=state)
        except OSError as err:
            raise CommandError(
                _("cannot listen on %(host)s:%(port)s: %(error)s (choose another port)")
                % {"host": host, "port": port, "error": err.strerror}
            ) from None
        unset = [ENVIRONMENT[n] for n in OPTIONAL if not os.environ.get(ENVIRONMENT[n])]
        # The URL and a masked key only: secrets never reach a terminal or a log.
        self.stdout.write(
            _(
                "Sandbox provider on %(url)s for API key …%(key)s, merchant %(merchant)s; "
                "tokens live %(lifetime)s s.\nCounters: %(url)s/sandbox/counters. "
                "Quit with CONTROL-C."
            )
            % {
                "url": server.url,
                "key": account.api_key[-4:],
                "merchant": account.merchant_uid,
                "lifetime": state.token_lifetime,
            }
        )
        if unset:
            self.stdout.write(
                _("Not set, so random and unusable: %(variables)s.")
                % {"variables": ", ".join(unset)}
            )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write(_("Sandbox provider stopped."))
