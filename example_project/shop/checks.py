"""System checks of the example site."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security)
def check_development_key(app_configs=None, **kwargs):
    """Warn while credentials are encrypted with the generated development key."""
    key_file = getattr(settings, "DEV_ENCRYPTION_KEY_FILE", None)
    if not key_file:
        return []
    return [
        Warning(
            f"Credentials are encrypted with the development key generated in {key_file}.",
            hint="Fine for this example; a real site sets APIAUTH_ENCRYPTION_KEYS "
            "(generate one with `manage.py apiauth_generate_key`).",
            id="shop.W001",
        )
    ]
