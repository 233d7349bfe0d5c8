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
            client,  # noqa: F401  (the HTTP stack: requests, urllib3, the clients)
            credential_cache,
            stamps,  # noqa: F401  (connects the credential stamp bumps)
        )
        from django_apiauth.conf import api_settings
        from django_apiauth.tokens import shared_cache

        # What the first call would import: the token cache's client library (``import
        # redis``: 45 ms), if any. A bad alias or backend is the system checks' to report.
        if isinstance(api_settings.CACHE_ALIAS, str):
            shared_cache.import_problem(api_settings.CACHE_ALIAS)
        # And the SQL of a first get_client(): built, never run (no connection is opened).
        credential_cache.compile_queries()
