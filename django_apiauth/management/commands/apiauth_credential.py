"""Create, update, list and delete credentials from the shell or a deploy script.

Secrets are read from environment variables or typed at a hidden prompt,
never from the command line, where they would land in shell history and in
``ps`` output for every user of the machine.
"""

import getpass
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from django_apiauth.exceptions import DecryptionError
from django_apiauth.models import ApiCredential

#: field -> (default environment variable, required when creating)
SECRET_FIELDS = {
    name: (f"APIAUTH_{name.upper()}", name not in ApiCredential.optional_secret_field_names())
    for name in ApiCredential.secret_field_names()
}


class Command(BaseCommand):
    help = "Manage API credentials: set (create/update), list, delete."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        setp = sub.add_parser(
            "set",
            help="Create or update a credential. Secrets come from $APIAUTH_API_KEY, "
            "$APIAUTH_API_SECRET, $APIAUTH_DASHBOARD_PASSWORD, $APIAUTH_SIGNATURE_SECRET "
            "(or the variables named by --*-env), else from a hidden prompt.",
        )
        setp.add_argument("name")
        setp.add_argument("--environment")
        setp.add_argument("--base-url")
        setp.add_argument("--dashboard-username")
        setp.add_argument("--merchant-uid")
        active = setp.add_mutually_exclusive_group()
        active.add_argument("--active", dest="is_active", action="store_true", default=None)
        active.add_argument("--inactive", dest="is_active", action="store_false")
        setp.add_argument(
            "--no-input", action="store_true", help="Never prompt; fail if a secret is missing."
        )
        for fld, (env, _required) in SECRET_FIELDS.items():
            flag = fld.replace("_", "-")
            setp.add_argument(
                f"--{flag}-env", default=env, metavar="VAR", help=f"Read {fld} from $VAR."
            )
            # Accepted only to refuse it with a useful message instead of argparse's.
            setp.add_argument(f"--{flag}", dest=f"argv_{fld}", help="Refused: see above.")
        sub.add_parser("list", help="List credentials (API keys masked).")
        delp = sub.add_parser("delete", help="Delete a credential.")
        delp.add_argument("name")

    def handle(self, *args, action, **options):
        return getattr(self, f"handle_{action}")(**options)

    def handle_list(self, **options):
        for cred in ApiCredential.objects.all():
            try:
                key = cred.masked_api_key()
            except DecryptionError:  # show the row, flag it
                key = "(undecryptable)"
            state = "active" if cred.is_active else "inactive"
            env = cred.environment or "-"
            self.stdout.write(f"{cred.name}\t{env}\t{cred.base_url or '-'}\t{key}\t{state}")

    def handle_delete(self, *, name, **options):
        deleted, _ = ApiCredential.objects.filter(name=name).delete()
        if not deleted:
            raise CommandError(f"no credential named {name!r}")
        self.stdout.write(f"Deleted credential {name!r}.")

    def handle_set(self, *, name, no_input, **options):
        refused = [f for f in SECRET_FIELDS if options.get(f"argv_{f}") is not None]
        if refused:
            flags = ", ".join(f"--{f.replace('_', '-')}" for f in refused)
            envs = ", ".join(f"${SECRET_FIELDS[f][0]}" for f in refused)
            raise CommandError(
                f"refusing {flags}: secrets on the command line end up in shell history "
                f"and process lists. Set {envs} or run interactively to be prompted."
            )
        cred = ApiCredential.objects.filter(name=name).first()
        creating = cred is None
        if creating:
            cred = ApiCredential(name=name)
        before = (cred.environment, cred.base_url)
        for fld in ("environment", "base_url", "dashboard_username", "merchant_uid", "is_active"):
            if options.get(fld) is not None:
                setattr(cred, fld, options[fld])
        # Secrets are bound to their endpoint: a new one needs them typed again.
        moved = not creating and (cred.environment, cred.base_url) != before
        interactive = not no_input and sys.stdin.isatty()
        kept = []  # stored secrets left as they are: nothing to validate
        for fld, (_env, required) in SECRET_FIELDS.items():
            prompt = creating or moved
            value = self._read_secret(fld, options[f"{fld}_env"], interactive, prompt=prompt)
            if value is not None:
                setattr(cred, fld, value)
            elif not creating:
                kept.append(fld)
            elif required:
                raise CommandError(
                    f"{fld} is required to create {name!r}: set "
                    f"${options[f'{fld}_env']} or run interactively"
                )
        try:
            # Kept secrets are not re-read: one the key ring cannot decrypt any more
            # must not stop an operator from fixing the others (it is saved unchanged).
            cred.full_clean(exclude=kept)
        except ValidationError as err:
            stale = [fld for fld in err.message_dict if fld in kept]
            if moved and stale and len(stale) == len(err.message_dict):
                envs = ", ".join(f"${options[f'{fld}_env']}" for fld in stale)
                raise CommandError(
                    f"the endpoint of {name!r} changes, and its stored secrets were entered "
                    f"for the old one: set {envs} (or run interactively to be prompted) to "
                    f"enter {', '.join(stale)} again for the new endpoint. Nothing was changed."
                ) from None
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in err.message_dict.items())
            raise CommandError(f"credential {name!r} is invalid: {problems}") from None
        cred.save()
        verb = "Created" if creating else "Updated"
        try:
            key = f"API key {cred.masked_api_key()}"
        except DecryptionError:
            key = "API key undecryptable"
        self.stdout.write(f"{verb} credential {name!r} ({key}).")
        if not cred.has_readable_secrets():
            self.stderr.write(
                f"warning: some secrets of {name!r} cannot be decrypted with the current keys; "
                "set them again (see --help for the variables) or restore the missing key"
            )

    def _read_secret(self, fld, env_var, interactive, *, prompt):
        value = os.environ.get(env_var)
        if value:
            return value
        if interactive and prompt:
            hint = "" if SECRET_FIELDS[fld][1] else " (blank to skip)"
            value = getpass.getpass(f"{fld.replace('_', ' ')}{hint}: ")
            return value or None
        return None
