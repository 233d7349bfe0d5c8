"""Drop cached access tokens (of the named credentials, or of all), fleet-wide.

Useful after a provider-side revocation: the next call of every process fetches
a new token instead of using the cached one until it expires::

    manage.py apiauth_clear_tokens
    manage.py apiauth_clear_tokens merchant-fr
"""

from django.core.management.base import BaseCommand, CommandError

from django_apiauth.client import ApiClient
from django_apiauth.exceptions import ApiAuthError, CredentialNotFound
from django_apiauth.models import ApiCredential


class Command(BaseCommand):
    help = "Drop the cached access tokens of the named credentials (all credentials by default)."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", metavar="NAME", help="Credential names.")

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
                self.stderr.write(f"{credential.name}: not cleared: {err}")
            else:
                self.stdout.write(f"{credential.name}: token cleared")
        if failed:
            raise CommandError(f"could not clear the token of: {', '.join(failed)}", returncode=1)
        if not credentials:
            self.stdout.write("no credentials")
