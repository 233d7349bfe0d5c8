"""``manage.py apiauth_prune_notifications [--days N]``: delete old delivery log rows.

Keep the retention longer than the provider's retries: an older redelivery is no longer
recognised as a duplicate.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from django_apiauth.conf import api_settings
from django_apiauth.notifications.deliveries import prune

__all__ = ["Command"]


class Command(BaseCommand):
    @property
    def help(self):  # in the active language, when --help is printed
        return _(
            "Delete notification deliveries older than APIAUTH['NOTIFICATION_RETENTION_DAYS'] "
            "(or --days). Run it daily."
        )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            metavar="N",
            help=_(
                "Keep the deliveries of the last N days instead of "
                "APIAUTH['NOTIFICATION_RETENTION_DAYS'] (a whole number, at least 1)."
            ),
        )

    def handle(self, *args, days, **options):
        days = api_settings.validated("NOTIFICATION_RETENTION_DAYS") if days is None else days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise CommandError(
                _("the retention must be a whole number of days, at least 1 (e.g. --days 30)")
            )
        deleted = prune(days)
        self.stdout.write(
            ngettext(
                "%(deleted)s notification delivery older than %(days)s days deleted",
                "%(deleted)s notification deliveries older than %(days)s days deleted",
                deleted,
            )
            % {"deleted": deleted, "days": days}
        )
