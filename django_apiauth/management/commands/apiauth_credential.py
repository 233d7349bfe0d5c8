"""Create, update, list and delete credentials from the shell or a deploy script.

Secrets come from environment variables or a hidden prompt, never from the command line
(shell history, ``ps`` output).
"""

import getpass
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from django_apiauth.conf import api_settings
from django_apiauth.exceptions import DecryptionError
from django_apiauth.models import ApiCredential

__all__ = ["Command"]

#: field -> (default environment variable, required when creating)
SECRET_FIELDS = {
    name: (f"APIAUTH_{name.upper()}", name not in ApiCredential.optional_secret_field_names())
    for name in ApiCredential.secret_field_names()
}


class Command(BaseCommand):
    @property
    def help(self):  # in the active language, when --help is printed
        return _(
            "Manage API credentials: set (create or update), list, delete. "
            "Run `apiauth_credential set --help` for the options of set."
        )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{set,list,delete}")
        setp = sub.add_parser(
            "set",
            help=_(
                "Create or update a credential. Secrets come from $APIAUTH_API_KEY, "
                "$APIAUTH_API_SECRET, $APIAUTH_DASHBOARD_PASSWORD, $APIAUTH_SIGNATURE_SECRET "
                "(or the variables named by --*-env), else from a hidden prompt; never from "
                "the command line. Options not given leave the stored values as they are."
            ),
            description=_(
                "Create or update a credential. Secrets come from environment variables or a "
                "hidden prompt, never from the command line."
            ),
        )
        setp.add_argument("name", help=_("The credential's name (a slug), e.g. shop-fr."))
        environments = ", ".join(api_settings.ENVIRONMENTS)
        setp.add_argument(
            "--environment",
            metavar="NAME",
            help=_(
                "One of APIAUTH['ENVIRONMENTS']: %(names)s (a new credential gets "
                "%(default)s). Changing it asks for the secrets again."
            )
            % {"names": environments, "default": api_settings.DEFAULT_ENVIRONMENT},
        )
        setp.add_argument(
            "--base-url",
            metavar="URL",
            help=_(
                "An https:// base URL that overrides the environment's (its host must be in "
                "APIAUTH['ALLOWED_HOSTS']). Changing it asks for the secrets again."
            ),
        )
        setp.add_argument(
            "--dashboard-username",
            metavar="EMAIL",
            help=_("The merchant dashboard login, for Basic authentication."),
        )
        setp.add_argument(
            "--merchant-uid",
            metavar="UID",
            help=_("The merchant's UID at the provider, e.g. mer_8ec99f9a."),
        )
        active = setp.add_mutually_exclusive_group()
        active.add_argument(
            "--active",
            dest="is_active",
            action="store_true",
            default=None,
            help=_("Make the credential usable (the default for a new one)."),
        )
        active.add_argument(
            "--inactive",
            dest="is_active",
            action="store_false",
            help=_("Keep the credential but refuse get_client() and --all checks for it."),
        )
        setp.add_argument(
            "--no-input",
            action="store_true",
            help=_("Never prompt; fail if a required secret is missing from the environment."),
        )
        for fld, (env, _required) in SECRET_FIELDS.items():
            flag = fld.replace("_", "-")
            setp.add_argument(
                f"--{flag}-env",
                default=env,
                metavar="VAR",
                help=_("Read %(field)s from $VAR (default $%(variable)s).")
                % {"field": fld, "variable": env},
            )
            # Accepted only to refuse it with a useful message instead of argparse's.
            setp.add_argument(
                f"--{flag}",
                dest=f"argv_{fld}",
                metavar="VALUE",
                help=_(
                    "Refused: a secret on the command line lands in shell history and "
                    "process lists. Use $%(variable)s or --%(flag)s-env instead."
                )
                % {"variable": env, "flag": flag},
            )
        sub.add_parser("list", help=_("List credentials (API keys masked)."))
        delp = sub.add_parser("delete", help=_("Delete a credential."))
        delp.add_argument("name", help=_("The name of the credential to delete."))

    def handle(self, *args, action, **options):
        return getattr(self, f"handle_{action}")(**options)

    def handle_list(self, **options):
        for cred in ApiCredential.objects.all():
            try:
                key = cred.masked_api_key()
            except DecryptionError:  # show the row, flag it
                key = _("(undecryptable)")
            state = _("active") if cred.is_active else _("inactive")
            self.stdout.write(f"{cred.name}\t{cred.endpoint_label()}\t{key}\t{state}")

    def handle_delete(self, *, name, **options):
        deleted, _per_model = ApiCredential.objects.filter(name=name).delete()
        if not deleted:
            raise CommandError(
                _("no credential named %(name)r (see `apiauth_credential list`)") % {"name": name}
            )
        self.stdout.write(_("Deleted credential %(name)r.") % {"name": name})

    def handle_set(self, *, name, no_input, **options):
        if refused := [f for f in SECRET_FIELDS if options.get(f"argv_{f}") is not None]:
            flags = ", ".join(f"--{f.replace('_', '-')}" for f in refused)
            envs = ", ".join(f"${SECRET_FIELDS[f][0]}" for f in refused)
            raise CommandError(
                _(
                    "refusing %(flags)s: secrets on the command line end up in shell history "
                    "and process lists. Set %(variables)s or run interactively to be prompted."
                )
                % {"flags": flags, "variables": envs}
            )
        cred = ApiCredential.objects.filter(name=name).first() or ApiCredential(name=name)
        creating = cred.pk is None
        before = (cred.environment, cred.base_url)
        for fld in ("environment", "base_url", "dashboard_username", "merchant_uid", "is_active"):
            if options.get(fld) is not None:
                setattr(cred, fld, options[fld])
        # Secrets are bound to their endpoint: a new one needs them typed again.
        moved = not creating and (cred.environment, cred.base_url) != before
        prompt = (creating or moved) and not no_input and sys.stdin.isatty()
        kept = []  # stored secrets left as they are: nothing to validate
        for fld, (_env, required) in SECRET_FIELDS.items():
            value = self._read_secret(fld, options[f"{fld}_env"], prompt)
            if value is not None:
                setattr(cred, fld, value)
            elif not creating:
                kept.append(fld)
            elif required:
                raise CommandError(
                    _(
                        "%(field)s is required to create %(name)r: set $%(variable)s or run "
                        "interactively"
                    )
                    % {"field": fld, "name": name, "variable": options[f"{fld}_env"]}
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
                    _(
                        "the endpoint of %(name)r changes, and its stored secrets were entered "
                        "for the old one: set %(variables)s (or run interactively to be "
                        "prompted) to enter %(fields)s again for the new endpoint. Nothing was "
                        "changed."
                    )
                    % {"name": name, "variables": envs, "fields": ", ".join(stale)}
                ) from None
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in err.message_dict.items())
            raise CommandError(
                _("credential %(name)r is invalid: %(problems)s")
                % {"name": name, "problems": problems}
            ) from None
        cred.save()
        try:
            key = _("API key %(masked)s") % {"masked": cred.masked_api_key()}
        except DecryptionError:
            key = _("API key undecryptable")
        done = _("Created credential %(name)r (%(key)s).") if creating else None
        done = done or _("Updated credential %(name)r (%(key)s).")
        self.stdout.write(done % {"name": name, "key": key})
        if not cred.has_readable_secrets():
            self.stderr.write(
                _(
                    "warning: some secrets of %(name)r cannot be decrypted with the current "
                    "keys; set them again (see --help for the variables) or restore the "
                    "missing key"
                )
                % {"name": name}
            )

    def _read_secret(self, fld, env_var, prompt):
        value = os.environ.get(env_var)
        if value or not prompt:
            return value or None
        text = _("%(field)s: ") if SECRET_FIELDS[fld][1] else _("%(field)s (blank to skip): ")
        return getpass.getpass(text % {"field": fld.replace("_", " ")}) or None
