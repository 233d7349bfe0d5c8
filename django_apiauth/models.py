"""``ApiCredential``: one merchant account's credentials for the provider."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import credential_cache
from .conf import api_settings
from .endpoints import check_url_is_secure, resolve_base_url
from .exceptions import (
    ConfigurationError,
    CredentialNotFound,
    DecryptionError,
    InsecureTransportError,
)
from .fields import EncryptedTextField

#: Characters of the API key left visible by :meth:`ApiCredential.masked_api_key`.
MASK_VISIBLE = 4


def default_environment() -> str:
    return api_settings.DEFAULT_ENVIRONMENT


def mask(value: str | None, visible: int = MASK_VISIBLE) -> str:
    """``"••••abcd"`` for a value ending in ``abcd``; short values are fully hidden."""
    if not value:
        return ""
    # A short value would be mostly revealed by its last 4 characters.
    tail = value[-visible:] if len(value) >= 3 * visible else ""
    return "••••" + tail


class ApiCredentialQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        """``QuerySet.update()`` that also tells cached clients of every process (``get_client``).

        Like ``save()``, it sets ``updated_at`` — unless only the connectivity
        status columns change, which no client depends on.
        """
        if set(kwargs) <= credential_cache.STATUS_FIELDS:
            return super().update(**kwargs)
        kwargs.setdefault("updated_at", timezone.now())
        with transaction.atomic(using=self.db, savepoint=False):
            rows = list(self.values_list("pk", "name"))
            count = super().update(**kwargs)
            credential_cache.bump_on_commit(
                [pk for pk, _ in rows], using=self.db, names=[name for _, name in rows]
            )
        return count

    def select(self, names: Sequence[str] = (), *, active_only: bool = False) -> list:
        """Credentials by name (in the order asked for), or all of them when no name is given.

        Used by the commands that take ``NAME ...`` (``apiauth_check``,
        ``apiauth_clear_tokens``). Raises ``CredentialNotFound`` naming every
        unknown name at once.
        """
        queryset = self.filter(is_active=True) if active_only else self.all()
        if not names:
            return list(queryset)
        wanted = list(dict.fromkeys(names))
        by_name = {cred.name: cred for cred in queryset.filter(name__in=wanted)}
        missing = [name for name in wanted if name not in by_name]
        if missing:
            kind = "active credential" if active_only else "credential"
            raise CredentialNotFound(f"no {kind} named {', '.join(repr(n) for n in missing)}")
        return [by_name[name] for name in wanted]


class ApiCredential(models.Model):
    """Credentials of one merchant account, secrets encrypted at rest.

    The environment is validated at call time against ``APIAUTH['ENVIRONMENTS']``
    (not as model choices) so changing the settings never needs a migration.
    """

    name = models.SlugField(_("name"), max_length=64, unique=True)
    environment = models.CharField(
        _("environment"), max_length=32, default=default_environment, blank=True
    )
    base_url = models.URLField(
        _("base URL"),
        blank=True,
        help_text=_("Leave blank to use the environment's URL."),
    )
    api_key = EncryptedTextField(_("API key"))
    api_secret = EncryptedTextField(_("API secret"))
    dashboard_username = models.CharField(_("dashboard login"), max_length=254, blank=True)
    dashboard_password = EncryptedTextField(_("dashboard password"), blank=True, default="")
    signature_secret = EncryptedTextField(_("signature secret"), blank=True, default="")
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
        permissions = [("test_connectivity", _("Can test connectivity of API credentials"))]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # Deliberately only non-secret fields: reprs end up in logs and tracebacks.
        return (
            f"<ApiCredential pk={self.pk} name={self.name!r} "
            f"environment={self.environment!r} active={self.is_active}>"
        )

    @property
    def endpoint(self) -> str:
        """The base URL requests go to (``base_url`` or the environment's)."""
        try:
            return resolve_base_url(self.environment, self.base_url)
        except ConfigurationError as err:
            # Raised at call time, far from the row: say which credential it is.
            raise ConfigurationError(f"credential {self.name!r}: {err}") from None

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
        except DecryptionError:
            return False
        return True

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.base_url:
            try:
                check_url_is_secure(self.base_url)
            except InsecureTransportError as err:
                errors["base_url"] = str(err)
        else:
            if not self.environment:
                self.environment = api_settings.DEFAULT_ENVIRONMENT
            try:
                check_url_is_secure(resolve_base_url(self.environment))
            except ConfigurationError as err:
                errors["environment"] = str(err)
            except InsecureTransportError as err:
                errors["environment"] = f"the environment's URL is refused: {err}"
        if errors:
            raise ValidationError(errors)


class NotificationDelivery(models.Model):
    """One delivery of a provider notification, whatever became of it.

    ``claim`` is the exactly-once lock: the row that is processing or has
    accepted a notification holds its key (a hash of credential, scheme and the
    notification's identity), and the database's unique constraint lets only
    one row hold it — across threads, processes and hosts, with no cache. A
    failed delivery gives its claim back, so the provider's retry is processed.
    The body is stored encrypted (it holds buyer data); no secret is ever stored.
    """

    class Outcome(models.TextChoices):
        PROCESSING = "processing", _("processing")
        ACCEPTED = "accepted", _("accepted")
        DUPLICATE = "duplicate", _("duplicate")
        DEFERRED = "deferred", _("deferred (first delivery still processing)")
        REFUSED = "refused", _("refused")
        ERROR = "error", _("error")

    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    credential = models.CharField(_("credential"), max_length=64, db_index=True)
    scheme = models.CharField(_("scheme"), max_length=8, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    notification_id = models.CharField(_("notification id"), max_length=255, blank=True)
    reference = models.CharField(_("reference"), max_length=255, blank=True, db_index=True)
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
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("notification delivery")
        verbose_name_plural = _("notification deliveries")
        constraints = [
            models.UniqueConstraint(fields=["claim"], name="django_apiauth_delivery_claim_unique")
        ]
        permissions = [("reprocess_notificationdelivery", _("Can process notifications again"))]

    def __str__(self) -> str:
        return f"{self.credential} {self.scheme or '?'} {self.notification_id or '-'}"

    def __repr__(self) -> str:
        return (
            f"<NotificationDelivery pk={self.pk} credential={self.credential!r} "
            f"scheme={self.scheme!r} outcome={self.outcome!r}>"
        )
