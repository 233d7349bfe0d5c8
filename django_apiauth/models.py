"""``ApiCredential``: one merchant account's credentials for the provider."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_apiauth import stamps
from django_apiauth.addresses import parse_url
from django_apiauth.conf import api_settings
from django_apiauth.exceptions import (
    ApiAuthError,
    ConfigurationError,
    CredentialNotFound,
    InsecureTransportError,
    SecretsNotReenteredError,
)
from django_apiauth.fields import Ciphertext, EncryptedTextField, Sealed
from django_apiauth.messages import translated
from django_apiauth.transport import endpoints
from django_apiauth.transport.endpoints import (
    check_host_is_allowed,
    endpoint_identity,
    resolve_base_url,
)

__all__ = ["ApiCredential", "NotificationDelivery", "default_environment", "mask"]


def default_environment() -> str:
    return api_settings.DEFAULT_ENVIRONMENT


def mask(value: str | None) -> str:
    """``"••••abcd"`` for a value of 8+ characters ending in ``abcd``; shorter: ``"••••"``."""
    if not value:
        return ""
    # Under 8 characters, the last 4 would reveal half of the value or more.
    tail = value[-4:] if len(value) >= 8 else ""
    return "••••" + tail


class ApiCredentialQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        """``QuerySet.update()`` that also tells the cached clients of every process.

        Sets ``updated_at`` like ``save()``, unless only the connectivity status changes.
        """
        if set(kwargs) <= stamps.STATUS_FIELDS:
            return super().update(**kwargs)
        kwargs.setdefault("updated_at", timezone.now())
        with transaction.atomic(using=self.db, savepoint=False):
            rows = list(self.values_list("pk", "name"))
            count = super().update(**kwargs)
            stamps.bump_on_commit(
                [pk for pk, _ in rows], using=self.db, names=[name for _, name in rows]
            )
        return count

    def select(self, names: Sequence[str] = (), *, active_only: bool = False) -> list:
        """Credentials by name (in the order asked for), or all of them when no name is given.

        Raises ``CredentialNotFound`` naming every unknown name at once.
        """
        queryset = self.filter(is_active=True) if active_only else self.all()
        if not names:
            return list(queryset)
        wanted = list(dict.fromkeys(names))
        by_name = {cred.name: cred for cred in queryset.filter(name__in=wanted)}
        if missing := [name for name in wanted if name not in by_name]:
            kind = "active credential" if active_only else "credential"
            raise CredentialNotFound(f"no {kind} named {', '.join(repr(n) for n in missing)}")
        return [by_name[name] for name in wanted]


class ApiCredential(models.Model):
    """Credentials of one merchant account, secrets encrypted at rest.

    ``environment`` is checked against ``APIAUTH['ENVIRONMENTS']`` at call time (not as
    choices: no migration when settings change). Secrets are bound to this row's ``uid``
    and endpoint (:meth:`secret_binding`): moved to another endpoint, by any means, they
    no longer decrypt, and :meth:`save` refuses to keep them unless entered again.
    """

    uid = models.UUIDField(_("UID"), default=uuid.uuid4, unique=True, editable=False)
    name = models.SlugField(_("name"), max_length=64, unique=True)
    environment = models.CharField(
        _("environment"), max_length=32, default=default_environment, blank=True
    )
    base_url = models.URLField(
        _("base URL"), blank=True, help_text=_("Leave blank to use the environment's URL.")
    )
    api_key = EncryptedTextField(_("API key"), bind_to="secret_binding")
    api_secret = EncryptedTextField(_("API secret"), bind_to="secret_binding")
    dashboard_username = models.CharField(_("dashboard login"), max_length=254, blank=True)
    dashboard_password = EncryptedTextField(
        _("dashboard password"), blank=True, default="", bind_to="secret_binding"
    )
    signature_secret = EncryptedTextField(
        _("signature secret"), blank=True, default="", bind_to="secret_binding"
    )
    merchant_uid = models.CharField(_("merchant UID"), max_length=128, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    last_check_at = models.DateTimeField(_("last check at"), null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(_("last check OK"), null=True, editable=False)
    last_check_detail = models.CharField(
        _("last check detail"), max_length=255, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ApiCredentialQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("API credential")
        verbose_name_plural = _("API credentials")
        permissions = [
            ("test_connectivity", _("Can test connectivity of API credentials")),
            (
                "replace_secrets",
                _(
                    "Can replace secrets (API key, API secret, dashboard password, signature secret)"  # noqa: E501
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # Deliberately only non-secret fields: reprs end up in logs and tracebacks.
        return (
            f"<ApiCredential pk={self.pk} name={self.name!r} "
            f"environment={self.environment!r} active={self.is_active}>"
        )

    def __getstate__(self) -> dict[str, Any]:
        # Pickles (cache.set(key, credential), say) carry ciphertexts only.
        state = super().__getstate__()
        for name in self.secret_field_names():
            value = state.get(name)
            if isinstance(value, str) and value:  # plaintext, typed or decrypted
                state[name] = Ciphertext(self._meta.get_field(name).seal(self, value).stored)
        return state

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.base_url:
            # A host every parser reads alike, even where clean() is not called.
            parse_url(self.base_url)
        if stale := self.secrets_to_reenter():
            raise SecretsNotReenteredError(
                f"credential {self.name!r} now points at another endpoint; its secrets are "
                f"bound to the old one: enter {', '.join(stale)} again (or restore the "
                "endpoint)",
                fields=tuple(stale),
            )
        super().save(*args, **kwargs)

    #: The columns secret_binding() reads: all key rotation loads besides the secrets.
    binding_fields = ("uid", "environment", "base_url")

    def secret_binding(self) -> str:
        """What the secrets are bound to: ``uid`` and the endpoint as ``scheme://host:port/path``."""
        if self.uid is None:
            raise ConfigurationError(f"credential {self.name!r} has no uid")
        return f"{self.uid}|{endpoint_identity(self.endpoint)}"

    @property
    def endpoint(self) -> str:
        """The base URL requests go to (``base_url`` or the environment's), not yet checked."""
        try:
            return resolve_base_url(self.environment, self.base_url)
        except ConfigurationError as err:
            # Raised at call time, far from the row: say which credential it is.
            raise ConfigurationError(f"credential {self.name!r}: {err}") from None

    def endpoint_label(self) -> str:
        """The endpoint used: the environment's name, or ``custom (<host>)`` for a base URL."""
        if self.base_url:
            return _("custom (%(host)s)") % {"host": urlsplit(self.base_url).netloc}
        return self.environment

    def masked_api_key(self) -> str:
        """The API key with all but its last 4 characters hidden."""
        return mask(self.api_key)

    masked_api_key.short_description = _("API key")  # type: ignore[attr-defined]

    @classmethod
    def secret_field_names(cls) -> tuple[str, ...]:
        """The encrypted fields, in model order: the one list of what is secret."""
        return tuple(f.name for f in cls._meta.fields if isinstance(f, EncryptedTextField))

    @classmethod
    def optional_secret_field_names(cls) -> tuple[str, ...]:
        """The secrets a credential may leave blank (dashboard login, signature secret)."""
        return tuple(name for name in cls.secret_field_names() if cls._meta.get_field(name).blank)

    def has_readable_secrets(self) -> bool:
        """Whether every encrypted field decrypts with the current key ring."""
        try:
            for name in self.secret_field_names():
                getattr(self, name)
        except ApiAuthError:  # undecryptable, or no endpoint to bind to
            return False
        return True

    def secrets_to_reenter(self) -> list[str]:
        """Stored secrets that must be entered again before saving (the endpoint changed)."""
        fields = map(self._meta.get_field, self.secret_field_names())
        return [field.name for field in fields if field.must_be_reentered(self)]

    def clean_fields(self, exclude: Any = None) -> None:
        # Stored secrets are validated when typed; re-reading them here would
        # raise instead of reporting when the endpoint changed (clean() does).
        stored = {n for n in self.secret_field_names() if isinstance(self.__dict__.get(n), Sealed)}
        super().clean_fields(exclude=set(exclude or ()) | stored)

    def clean(self) -> None:
        super().clean()
        if not self.base_url and not self.environment:
            self.environment = api_settings.DEFAULT_ENVIRONMENT
        field = "base_url" if self.base_url else "environment"
        try:
            url = self.base_url or resolve_base_url(self.environment)
            endpoints.check_url_is_secure(url)
            check_host_is_allowed(url)
        except ConfigurationError as err:
            raise ValidationError({field: translated(err)}) from None
        except InsecureTransportError as err:
            reason = translated(err)
            if not self.base_url:
                reason = _("the environment's URL is refused: %(reason)s") % {"reason": reason}
            raise ValidationError({field: reason}) from None
        reenter = _("The endpoint changed: enter this secret again for the new endpoint.")
        if stale := self.secrets_to_reenter():
            raise ValidationError({name: str(reenter) for name in stale})


class NotificationDelivery(models.Model):
    """One delivery of a provider notification, whatever became of it.

    The ``accepted`` row holds the notification's ``claim`` key (unique: see
    ``notifications.deliveries``). The body is stored encrypted (buyer data), except for
    refused deliveries, which keep only its size and SHA-256; no secret is ever stored.
    """

    class Outcome(models.TextChoices):
        PROCESSING = "processing", _("processing")
        ACCEPTED = "accepted", _("accepted")
        DUPLICATE = "duplicate", _("duplicate")
        DEFERRED = "deferred", _("deferred (first delivery still processing)")
        REFUSED = "refused", _("refused")
        ERROR = "error", _("error")

    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    credential = models.CharField(_("credential"), max_length=64)
    scheme = models.CharField(_("scheme"), max_length=8, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    notification_id = models.CharField(_("notification id"), max_length=255, blank=True)
    reference = models.CharField(_("reference"), max_length=255, blank=True)
    handler = models.CharField(
        _("handled by"),
        max_length=255,
        blank=True,
        help_text=_("'signals' (the ready-made routes) or the view's dotted path."),
    )
    # NULL, not "": only the row holding a claim has a key, and a unique column
    # allows any number of NULLs.
    claim = models.CharField(  # noqa: DJ001
        _("claim"), max_length=64, null=True, blank=True, editable=False
    )
    body = EncryptedTextField(_("body"), blank=True, default="")
    # What a refused delivery keeps instead of its body (strangers must not fill the table).
    body_size = models.PositiveIntegerField(_("body size"), null=True, blank=True)
    body_sha256 = models.CharField(_("body SHA-256"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("notification delivery")
        verbose_name_plural = _("notification deliveries")
        constraints = [
            models.UniqueConstraint(fields=["claim"], name="django_apiauth_delivery_claim_unique")
        ]
        # Plain indexes: ``db_index`` on PostgreSQL adds a second one for LIKE 'x%' per
        # column, which nothing here runs and every delivery paid for.
        indexes = [
            models.Index(fields=["credential"], name="django_apiauth_delivery_cred"),
            models.Index(fields=["reference"], name="django_apiauth_delivery_ref"),
        ]
        permissions = [("reprocess_notificationdelivery", _("Can process notifications again"))]

    def __str__(self) -> str:
        return f"{self.credential} {self.scheme or '?'} {self.notification_id or '-'}"

    def __repr__(self) -> str:
        return (
            f"<NotificationDelivery pk={self.pk} credential={self.credential!r} "
            f"scheme={self.scheme!r} outcome={self.outcome!r}>"
        )
