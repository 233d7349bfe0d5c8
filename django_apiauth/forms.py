"""The admin's credential form: secrets are write-only.

The encrypted columns are not model fields of this form but password inputs that never
render a value, copied onto the instance only when something was typed: no page holds a
stored secret, a blank input keeps it, and an undecryptable row can still be repaired.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from django_apiauth.conf import api_settings
from django_apiauth.exceptions import ApiAuthError
from django_apiauth.models import ApiCredential

__all__ = ["OPTIONAL_SECRET_FIELDS", "SECRET_FIELDS", "ApiCredentialForm", "secret_state"]

#: Encrypted columns, in the order the form shows them.
SECRET_FIELDS = ApiCredential.secret_field_names()
#: Secrets a credential can do without; each gets a "clear" checkbox.
OPTIONAL_SECRET_FIELDS = ApiCredential.optional_secret_field_names()


def _formfield(db_field: Any, **kwargs: Any) -> Any:
    # A scheme-less base URL means https:// (Django 6's default, chosen now).
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


def secret_state(credential: ApiCredential, secret: str) -> str:
    """``"set"``, ``"empty"`` or ``"unreadable"`` for one encrypted field of ``credential``."""
    if credential.pk is None:
        return "empty"
    try:
        value = getattr(credential, secret)
    except ApiAuthError:  # undecryptable, or no endpoint to bind it to
        return "unreadable"
    return "set" if value else "empty"


class ApiCredentialForm(forms.ModelForm):
    """Add/change form for :class:`~django_apiauth.models.ApiCredential` with write-only secrets."""

    environment = forms.ChoiceField(label=_("Environment"), required=False)
    api_key = forms.CharField(label=_("API key"), required=False)
    api_secret = forms.CharField(label=_("API secret"), required=False)
    dashboard_password = forms.CharField(label=_("Dashboard password"), required=False)
    clear_dashboard_password = forms.BooleanField(
        label=_("Clear the dashboard password"), required=False
    )
    signature_secret = forms.CharField(label=_("Signature secret"), required=False)
    clear_signature_secret = forms.BooleanField(
        label=_("Clear the signature secret"), required=False
    )

    #: False for staff without ``django_apiauth.replace_secrets`` (the admin sets it):
    #: the secret inputs and the endpoint (moving it means typing every secret again)
    #: are then not fields of the form, so values posted for them are ignored.
    can_replace_secrets = True

    class Meta:
        model = ApiCredential
        formfield_callback = _formfield
        fields = [
            "name",
            "environment",
            "base_url",
            "dashboard_username",
            "merchant_uid",
            "is_active",
        ]
        # Also excluded explicitly: the admin builds Meta.fields from its fieldsets, and an
        # encrypted column as a model field would fill the form and be blanked when left empty.
        exclude = list(SECRET_FIELDS)  # noqa: DJ006

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.can_replace_secrets:
            endpoint = ("environment", "base_url")
            for name in (*SECRET_FIELDS, *(f"clear_{s}" for s in SECRET_FIELDS), *endpoint):
                self.fields.pop(name, None)
            return
        # Choices are read now, not at import, so settings changes apply at once.
        self.fields["environment"].choices = [
            ("", _("— none (a base URL is given) —")),
            *((name, f"{name} ({url})") for name, url in api_settings.ENVIRONMENTS.items()),
        ]
        adding = self.instance.pk is None
        if adding:
            # A declared field does not inherit the model field's callable default.
            self.fields["environment"].initial = api_settings.DEFAULT_ENVIRONMENT
        for secret in SECRET_FIELDS:
            field = self.fields[secret]
            # A fresh widget per form: render_value=False is what keeps values off pages.
            field.widget = forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "new-password"}
            )
            field.required = adding and secret not in OPTIONAL_SECRET_FIELDS
            field.help_text = str(self._secret_help_text(secret))
        if adding:
            for secret in OPTIONAL_SECRET_FIELDS:
                self.fields.pop(f"clear_{secret}", None)

    def _secret_help_text(self, secret: str) -> Any:
        state = secret_state(self.instance, secret)
        if state == "set" and secret == "api_key":
            text = _("A value is set (%(masked)s); leave blank to keep it.")
            return text % {"masked": self.instance.masked_api_key()}
        if state == "set":
            return _("A value is set; leave blank to keep it, or type a new one to replace it.")
        if state == "unreadable":
            return _(
                "A value is stored but cannot be decrypted with the current encryption "
                "keys; type a new one to replace it."
            )
        if self.instance.pk is None:
            return _("Optional.") if secret in OPTIONAL_SECRET_FIELDS else ""
        return _("No value is set.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for secret in OPTIONAL_SECRET_FIELDS:
            if cleaned.get(f"clear_{secret}") and cleaned.get(secret):
                self.add_error(secret, _("Type a new value or tick “clear”, not both."))
        return cleaned

    def _post_clean(self) -> None:
        # The model's validation must see the secrets typed in this submission:
        # it refuses an endpoint change that keeps secrets entered for the old one.
        # Typed values replace the stored ones; a ticked "clear" empties them.
        for secret in SECRET_FIELDS:
            value = self.cleaned_data.get(secret)
            if value or self.cleaned_data.get(f"clear_{secret}"):
                setattr(self.instance, secret, value or "")
        super()._post_clean()
