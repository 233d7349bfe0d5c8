"""``manage.py apiauth_clear_tokens [NAME ...]``: drop cached access tokens, fleet-wide."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from django_apiauth.clients.sync import ApiClient
from django_apiauth.exceptions import ApiAuthError, CredentialNotFound
from django_apiauth.models import ApiCredential

__all__ = ["Command"]


class Command(BaseCommand):
    @property
    def help(self):  # in the active language, when --help is printed
        return _(
            "Drop the cached access tokens of the named credentials (all credentials by "
            "default), fleet-wide: every process fetches a new token on its next call."
        )

    def add_arguments(self, parser):
        parser.add_argument(
            "names",
            nargs="*",
            metavar="NAME",
            help=_("Names of the credentials whose token to drop (default: every credential)."),
        )

    def handle(self, *args, names, **options):
        try:
            credentials = ApiCredential.objects.select(names)
        except CredentialNotFound as err:
            raise CommandError(str(err)) from None
        failed = []
        for credential in credentials:
            try:
                ApiClient(credential).invalidate_token()
            except ApiAuthError as err:
                # E.g. undecryptable secrets: the token's cache key cannot be computed.
                failed.append(credential.name)
                self.stderr.write(
                    _("%(name)s: not cleared: %(error)s") % {"name": credential.name, "error": err}
                )
            else:
                self.stdout.write(_("%(name)s: token cleared") % {"name": credential.name})
        if failed:
            raise CommandError(
                _(
                    "could not clear the token of: %(names)s (restore the encryption key "
                    "that decrypts their secrets, or enter the secrets again)"
                )
                % {"names": ", ".join(failed)},
                returncode=1,
            )
        if not credentials:
            self.stdout.write(_("no credentials"))
