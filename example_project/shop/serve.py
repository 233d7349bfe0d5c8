"""``manage.py demo --serve``: the site and the sandbox, for a walk through the admin."""

from __future__ import annotations

import os
from typing import TextIO
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from django_apiauth.testing import Account, SandboxState, start_sandbox

from .demo import save_credential

ADMIN_USERNAME = "admin"


def ensure_superuser() -> str:
    """Create the ``admin`` superuser once; its password comes from ``DEMO_ADMIN_PASSWORD``."""
    password = os.environ.get("DEMO_ADMIN_PASSWORD", "admin")
    user_model = get_user_model()
    if not user_model.objects.filter(username=ADMIN_USERNAME).exists():
        user_model.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", password)
    return ADMIN_USERNAME


def serve(out: TextIO, addrport: str = "127.0.0.1:8000") -> None:
    """Migrate, start the sandbox at ``SANDBOX_URL``, then run the site until Ctrl-C."""
    call_command("migrate", interactive=False, verbosity=0)
    username = ensure_superuser()
    sandbox_url = urlsplit(settings.SANDBOX_URL)
    account = Account(**settings.SANDBOX_ACCOUNT)
    sandbox = start_sandbox(
        sandbox_url.hostname or "127.0.0.1",
        sandbox_url.port or 8001,
        state=SandboxState(accounts=[account]),
    )
    try:
        # The credential uses the "sandbox" environment (no base URL of its own), as a
        # person adding one in the admin would.
        save_credential(settings.SHOP_CREDENTIAL, account, base_url="")
        out.write(
            f"Sandbox provider on {sandbox.url} (counters: {sandbox.url}/sandbox/counters)\n"
            f"Open http://{addrport}/admin/ and log in as {username!r} "
            "(password: $DEMO_ADMIN_PASSWORD, 'admin' when unset).\n"
            f"The credential {settings.SHOP_CREDENTIAL!r} is ready: select it and run the "
            '"Test connectivity" action. To add one yourself, choose the "sandbox" environment '
            "and copy the SANDBOX_* values from example_project/.env.example.\n"
        )
        call_command("runserver", addrport, use_reloader=False)
    finally:
        sandbox.stop()
