from django.core.management.base import BaseCommand, CommandError

from django_apiauth.exceptions import ConfigurationError
from django_apiauth.rotation import PLAINTEXT, rotate_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the first key of the key ring. Safe to "
        "interrupt and re-run; rows no key decrypts are listed, not changed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count values per key id; change nothing."
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Rows per transaction (default 500)."
        )
        parser.add_argument("--database", default="default", help="Database alias.")

    def handle(self, *args, dry_run, batch_size, database, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            report = rotate_keys(dry_run=dry_run, batch_size=batch_size, using=database)
        except ConfigurationError as err:
            raise CommandError(str(err)) from err

        self.stdout.write(f"Primary key id: {report.primary_key_id}")
        self.stdout.write("Values found per key id:")
        if not report.by_key:
            self.stdout.write("  (no encrypted values)")
        for key_id, count in sorted(report.by_key.items()):
            note = ""
            if key_id == report.primary_key_id:
                note = " (primary)"
            elif key_id == PLAINTEXT:
                note = " (not encrypted yet)"
            self.stdout.write(f"  {key_id}: {count}{note}")
        if dry_run:
            self.stdout.write(
                f"Would re-encrypt {report.rotated} value(s) and encrypt "
                f"{report.encrypted_plaintext} plaintext value(s)."
            )
            if report.bound:
                self.stdout.write(f"Would bind {report.bound} value(s) to their row and endpoint.")
        else:
            self.stdout.write(
                f"Re-encrypted {report.rotated} value(s), encrypted "
                f"{report.encrypted_plaintext} plaintext value(s); "
                f"{report.rows_updated} row(s) updated."
            )
            if report.bound:
                self.stdout.write(f"Bound {report.bound} value(s) to their row and endpoint.")
        for bad in report.undecryptable:
            self.stderr.write(f"UNDECRYPTABLE {bad.label} pk={bad.pk} {bad.field}: {bad.reason}")
        if report.undecryptable:
            raise CommandError(
                f"{len(report.undecryptable)} value(s) could not be decrypted and were left "
                "unchanged; add the missing key to the ring (after the primary), or enter "
                "again the secrets of credentials whose endpoint changed, and re-run."
            )
        self.stdout.write(
            self.style.SUCCESS("Done." if not dry_run else "Dry run: nothing changed.")
        )
