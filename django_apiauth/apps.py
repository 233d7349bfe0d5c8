from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

__all__ = ["ApiAuthConfig"]


class ApiAuthConfig(AppConfig):
    name = "django_apiauth"
    verbose_name = _("API authentication")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_apiauth import (
            checks,  # noqa: F401  (registers the system checks)
            stamps,  # noqa: F401  (connects the credential stamp bumps)
        )
