from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from django_apiauth.exceptions import ConfigurationError
from django_apiauth.rotation import PLAINTEXT, rotate_keys

__all__ = ["Command"]


class Command(BaseCommand):
    @property
    def help(self):  # in the active language, when --help is printed
        return _(
            "Re-encrypt every stored secret under the first key of the key ring. Safe to "
            "interrupt and re-run; rows no key decrypts are listed, not changed."
        )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Only count values per key id; change nothing."),
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            metavar="ROWS",
            help=_("Rows per transaction (default 500)."),
        )
        parser.add_argument(
            "--database",
            default="default",
            metavar="ALIAS",
            help=_("The DATABASES alias whose rows are re-encrypted (default 'default')."),
        )

    def handle(self, *args, dry_run, batch_size, database, **options):
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1 (e.g. --batch-size 500)"))
        try:
            report = rotate_keys(dry_run=dry_run, batch_size=batch_size, using=database)
        except ConfigurationError as err:
            raise CommandError(str(err)) from err

        self.stdout.write(_("Primary key id: %(key_id)s") % {"key_id": report.primary_key_id})
        self.stdout.write(_("Values found per key id:"))
        if not report.by_key:
            self.stdout.write(_("  (no encrypted values)"))
        notes = {report.primary_key_id: _(" (primary)"), PLAINTEXT: _(" (not encrypted yet)")}
        for key_id, count in sorted(report.by_key.items()):
            self.stdout.write(f"  {key_id}: {count}{notes.get(key_id, '')}")
        if dry_run:
            summary = _(
                "Would re-encrypt %(rotated)s value(s) and encrypt %(encrypted_plaintext)s "
                "plaintext value(s)."
            )
            bound = _("Would bind %(bound)s value(s) to their row and endpoint.")
        else:
            summary = _(
                "Re-encrypted %(rotated)s value(s), encrypted %(encrypted_plaintext)s "
                "plaintext value(s); %(rows_updated)s row(s) updated."
            )
            bound = _("Bound %(bound)s value(s) to their row and endpoint.")
        self.stdout.write(summary % vars(report))
        if report.bound:
            self.stdout.write(bound % vars(report))
        for bad in report.undecryptable:
            self.stderr.write(f"UNDECRYPTABLE {bad.label} pk={bad.pk} {bad.field}: {bad.reason}")
        if report.undecryptable:
            raise CommandError(
                _(
                    "%(count)s value(s) could not be decrypted and were left unchanged; add "
                    "the missing key to the ring (after the primary), or enter again the "
                    "secrets of credentials whose endpoint changed, and re-run."
                )
                % {"count": len(report.undecryptable)}
            )
        self.stdout.write(
            self.style.SUCCESS(_("Done.") if not dry_run else _("Dry run: nothing changed."))
        )
