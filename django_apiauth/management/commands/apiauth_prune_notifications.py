"""Delete notification delivery log rows older than the retention period::

    manage.py apiauth_prune_notifications             # APIAUTH["NOTIFICATION_RETENTION_DAYS"]
    manage.py apiauth_prune_notifications --days 7

Run it daily (cron). A redelivery older than the retention is no longer
recognised as a duplicate, so keep the period longer than the provider's retries.
"""

from django.core.management.base import BaseCommand, CommandError

from django_apiauth.conf import api_settings
from django_apiauth.deliveries import prune


class Command(BaseCommand):
    help = "Delete notification deliveries older than NOTIFICATION_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Keep this many days instead.")

    def handle(self, *args, days, **options):
        days = api_settings.validated("NOTIFICATION_RETENTION_DAYS") if days is None else days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise CommandError("the retention must be a whole number of days, at least 1")
        deleted = prune(days)
        self.stdout.write(f"{deleted} notification deliveries older than {days} days deleted")
