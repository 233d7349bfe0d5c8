"""``manage.py demo [--calls N] [--serve]``: see django-apiauth work, offline."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from shop.demo import run_demo
from shop.serve import serve as serve_site


class Command(BaseCommand):
    help = (
        "Run the sandbox provider and show each capability of django-apiauth in a short "
        "report (exit 1 if a step fails). With --serve, start the site and the sandbox "
        "for a walk through the admin instead."
    )
    requires_system_checks: list[str] = []  # the report shows the checks itself

    def add_arguments(self, parser):
        parser.add_argument(
            "--calls", type=int, default=5, help="bearer calls made with one token (default 5)"
        )
        parser.add_argument(
            "--serve",
            action="store_true",
            help="start the site (admin) and the sandbox until Ctrl-C",
        )
        parser.add_argument(
            "--addrport", default="127.0.0.1:8000", help="where --serve runs the site"
        )

    def handle(self, *args, calls: int, serve: bool, addrport: str, **options):
        if serve:
            serve_site(self.stdout, addrport)
            return
        if calls < 1:
            raise CommandError("--calls must be at least 1")
        if not run_demo(self.stdout, calls=calls):
            raise CommandError("some demo steps failed (see above)")
