"""``manage.py apiauth_check NAME ... | --all``: one line per credential, exit 1 if any fails."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from django_apiauth.checks import token_cache_messages
from django_apiauth.connectivity import DEFAULT_TIMEOUT, check_credentials
from django_apiauth.exceptions import CredentialNotFound
from django_apiauth.models import ApiCredential

__all__ = ["Command"]


class Command(BaseCommand):
    @property
    def help(self):  # in the active language, when --help is printed
        return _(
            "Run the connectivity check of the named credentials (or of every active one "
            "with --all), store the results and print one line per credential. "
            "Exits with status 1 if any check fails."
        )

    def add_arguments(self, parser):
        parser.add_argument(
            "names",
            nargs="*",
            metavar="NAME",
            help=_("Names of the credentials to check (inactive ones too); or use --all."),
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="all_active",
            help=_("Check every active credential."),
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            metavar="SECONDS",
            help=_("Give up on one check after this many seconds (default %(default)s).")
            % {"default": f"{DEFAULT_TIMEOUT:g}"},
        )

    def handle(self, *args, names, all_active, timeout, **options):
        if bool(names) == all_active:
            raise CommandError(_("name the credentials to check, or pass --all (not both)"))
        if timeout <= 0:
            raise CommandError(_("--timeout must be a positive number of seconds, such as 15"))
        try:
            credentials = ApiCredential.objects.select(names, active_only=all_active)
        except CredentialNotFound as err:
            raise CommandError(str(err)) from None
        if not credentials:
            raise CommandError(
                _(
                    "there is no active credential to check: create one with "
                    "`manage.py apiauth_credential set NAME` or activate one in the admin"
                )
            )
        # A check passes on a process-local or broken token cache, yet the fleet
        # would not share tokens: say so, in the system checks' own words.
        for message in token_cache_messages(reachability=True, warn_if_local=True):
            self.stderr.write(self.style.WARNING(f"WARNING ({message.id}): {message.msg}"))
        results = check_credentials(credentials, timeout=timeout)
        width = max(len(result.name) for result in results)
        for result in results:
            status = self.style.SUCCESS("OK    ") if result.ok else self.style.ERROR("FAILED")
            self.stdout.write(f"{status} {result.name:<{width}}  {result.summary}")
        if failed := [result.name for result in results if not result.ok]:
            raise CommandError(
                _("%(failed)s of %(total)s checks failed: %(names)s")
                % {"failed": len(failed), "total": len(results), "names": ", ".join(failed)},
                returncode=1,
            )
