from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from django_apiauth.crypto import generate_key

__all__ = ["Command"]


class Command(BaseCommand):
    @property
    def help(self):  # in the active language, when --help is printed
        return _(
            "Print a new Fernet key for APIAUTH['ENCRYPTION_KEYS'] / $APIAUTH_ENCRYPTION_KEYS. "
            "Put it first in the list, keep the old keys after it, then run apiauth_rotate_keys."
        )

    requires_system_checks = []

    def handle(self, *args, **options):
        # The key is the whole point of this command: it goes to stdout only,
        # never to a log, so it can be piped into a secret store.
        self.stdout.write(generate_key())
