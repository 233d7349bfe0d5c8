"""Admin for API credentials: write-only secrets and the "Test connectivity" action.

No page shows a secret: the change list shows the API key masked, the form's
secret inputs never render a value (see ``forms.py``), history entries only
name the fields that changed, and add/change requests are marked with
``sensitive_post_parameters`` so error reports hide the typed secrets.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from django_apiauth.connectivity import check_credentials
from django_apiauth.exceptions import ApiAuthError, ConfigurationError
from django_apiauth.forms import SECRET_FIELDS, ApiCredentialForm, secret_state
from django_apiauth.models import ApiCredential

_BADGE_STYLE = (
    "display:inline-block;padding:1px 6px;border-radius:8px;font-weight:bold;"
    "color:#fff;background:{}"
)
_BADGES = {
    True: (_("OK"), "#2e7d32", "ok"),
    False: (_("failed"), "#c62828", "failed"),
    None: (_("never"), "#757575", "never"),
}

#: The "clear this secret" checkboxes, dropped where there is nothing to clear.
CLEAR_FIELDS = frozenset({"clear_dashboard_password", "clear_signature_secret"})
#: The read-only columns shown instead of the secret inputs: whether each is set.
STATE_FIELDS = {secret: f"{secret}_state" for secret in SECRET_FIELDS}

sensitive_secrets = method_decorator(sensitive_post_parameters(*SECRET_FIELDS))


class LastCheckFilter(admin.SimpleListFilter):
    """Filter on the last connectivity check: OK, failed or never run."""

    title = _("last check")
    parameter_name = "last_check"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(css, label) for label, _colour, css in _BADGES.values()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        for ok, (_label, _colour, css) in _BADGES.items():
            if self.value() == css:
                return queryset.filter(last_check_ok=ok)  # None: IS NULL
        return queryset


def _secret_state_column(secret: str) -> Any:
    """A read-only column saying whether ``secret`` is set, never what it is."""

    @admin.display(description=ApiCredential._meta.get_field(secret).verbose_name)
    def column(model_admin: ApiCredentialAdmin, obj: ApiCredential) -> str:
        state = secret_state(obj, secret)
        if state == "unreadable":
            return str(_("set, but cannot be decrypted"))
        if state == "set":
            return obj.masked_api_key() if secret == "api_key" else str(_("set"))
        return str(_("not set"))

    return column


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    form = ApiCredentialForm
    change_form_template = "django_apiauth/admin/apicredential_change_form.html"
    list_display = ["name", "endpoint_display", "api_key_display", "is_active", "last_check_badge"]
    list_filter = ["environment", "is_active", LastCheckFilter]
    # Only plain columns: the encrypted ones support no lookup but isnull.
    search_fields = ["name", "merchant_uid"]
    readonly_fields = ["last_check_badge", "created_at", "updated_at"]
    actions = ["test_connectivity"]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "merchant_uid"]}),
        (_("Endpoint"), {"fields": ["environment", "base_url"]}),
        (_("Access token (API key and secret)"), {"fields": ["api_key", "api_secret"]}),
        (
            _("Dashboard login (basic authentication)"),
            {"fields": ["dashboard_username", "dashboard_password", "clear_dashboard_password"]},
        ),
        (_("Signature (JWT)"), {"fields": ["signature_secret", "clear_signature_secret"]}),
        (_("Status"), {"fields": ["last_check_badge", "created_at", "updated_at"]}),
    ]

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    api_key_state = _secret_state_column("api_key")
    api_secret_state = _secret_state_column("api_secret")
    dashboard_password_state = _secret_state_column("dashboard_password")
    signature_secret_state = _secret_state_column("signature_secret")

    def has_replace_secrets_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_apiauth.replace_secrets")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A credential does not exist without its API key and secret: adding one sets them.
        return super().has_add_permission(request) and self.has_replace_secrets_permission(request)

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs: Any):
        if not self.has_replace_secrets_permission(request):
            # Enforced by the form (the fields are gone), not only by the fieldsets.
            kwargs["form"] = type(self.form.__name__, (self.form,), {"can_replace_secrets": False})
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiCredential | None = None):
        if self.has_replace_secrets_permission(request):
            return self.readonly_fields
        return [*self.readonly_fields, "environment", "base_url", *STATE_FIELDS.values()]

    def get_fieldsets(self, request: HttpRequest, obj: ApiCredential | None = None):
        adding = obj is None
        editable = not adding and self.has_change_permission(request, obj)
        if editable and self.has_replace_secrets_permission(request):
            return self.fieldsets
        # Adding: nothing to clear yet, and no status to show. View only, or change
        # without replacing secrets: Django would show a read-only field with its
        # value, for a secret the decrypted secret.
        shown = {} if adding else STATE_FIELDS
        fieldsets = []
        for title, options in self.fieldsets:
            if not adding or title != _("Status"):
                fields = [shown.get(f, f) for f in options["fields"] if f not in CLEAR_FIELDS]
                fieldsets.append((title, {**options, "fields": fields}))
        return fieldsets

    # ----------------------------------------------------------------- columns

    @admin.display(description=_("endpoint"))
    def endpoint_display(self, obj: ApiCredential) -> str:
        # The endpoint actually used: a base URL overrides the environment.
        try:
            return format_html('<span title="{}">{}</span>', obj.endpoint, obj.endpoint_label())
        except ConfigurationError:
            return format_html(
                '<span style="color:#c62828">⚠ {}</span>',
                _("unknown environment %(env)r") % {"env": obj.environment},
            )

    @admin.display(description=_("API key"))
    def api_key_display(self, obj: ApiCredential) -> str:
        # Only the API key is decrypted (secrets decrypt lazily): a page of 100 rows
        # costs 100 decryptions, not 400. The change page reports each secret.
        try:
            return obj.masked_api_key()
        except ApiAuthError:
            # One undecryptable row must not break the whole page: flag it instead.
            return format_html(
                '<span class="apiauth-undecryptable" style="color:#c62828" title="{}">⚠ {}</span>',
                _(
                    "No key of APIAUTH['ENCRYPTION_KEYS'] decrypts this row's secrets: restore "
                    "the key that encrypted them, or re-enter the secrets."
                ),
                _("secrets cannot be decrypted"),
            )

    @admin.display(description=_("last check"), ordering="last_check_at")
    def last_check_badge(self, obj: ApiCredential) -> str:
        label, colour, css = _BADGES[obj.last_check_ok]
        badge = format_html(
            '<span class="apiauth-badge apiauth-badge-{}" style="{}">{}</span>',
            css,
            _BADGE_STYLE.format(colour),
            label,
        )
        if obj.last_check_at is None:
            return badge
        when = date_format(timezone.localtime(obj.last_check_at), "SHORT_DATETIME_FORMAT")
        detail = obj.last_check_detail or ""
        return format_html(
            '{} <span title="{}">{} · {}</span>',
            badge,
            detail,
            when,
            Truncator(detail).chars(160),  # wrapped: a French detail is longer
        )

    # ------------------------------------------------------ add / change views

    add_view = sensitive_secrets(admin.ModelAdmin.add_view)

    @sensitive_secrets
    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ):
        extra_context = {
            **(extra_context or {}),
            "can_test_connectivity": self.has_test_connectivity_permission(request),
            "test_connectivity_url": self._url("test_connectivity", object_id),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # ------------------------------------------------------ connectivity check

    def has_test_connectivity_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_apiauth.test_connectivity")

    @admin.action(description=_("Test connectivity"), permissions=["test_connectivity"])
    def test_connectivity(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Check the selected credentials concurrently and report one message each."""
        # Freshly loaded rows: only stored credentials go to stored endpoints.
        self._run_checks(request, list(queryset))

    def test_connectivity_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The change page's button: check one credential (POST only)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_test_connectivity_permission(request):
            raise PermissionDenied
        credential = self.get_object(request, unquote(object_id))
        if credential is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        # Like the action, which lives on a change list only viewers reach.
        if not self.has_view_or_change_permission(request, credential):
            raise PermissionDenied
        self._run_checks(request, [credential])
        return HttpResponseRedirect(self._url("change", credential.pk))

    def _url(self, view: str, object_id: Any) -> str:
        return reverse(
            f"{self.admin_site.name}:django_apiauth_apicredential_{view}", args=[object_id]
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.test_connectivity_view)
        name = "django_apiauth_apicredential_test_connectivity"
        return [path("<path:object_id>/test-connectivity/", view, name=name), *super().get_urls()]

    def _run_checks(self, request: HttpRequest, credentials: list[ApiCredential]) -> None:
        for credential, result in zip(credentials, check_credentials(credentials), strict=True):
            # Quoted like Django's own messages (which also stops capfirst changing the name).
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"“{credential.name}”: {result.summary}", level)
            summary = {"summary": result.summary}
            self.log_change(request, credential, _("Tested connectivity: %(summary)s") % summary)


from django_apiauth.notifications import admin as notification_admin  # noqa: E402,F401  (the delivery log)

__all__ = ["ApiCredentialAdmin"]
