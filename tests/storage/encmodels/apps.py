from django.apps import AppConfig


class EncModelsConfig(AppConfig):
    """Models of the test suite's own with encrypted fields (no migrations: syncdb)."""

    name = "tests.storage.encmodels"
    label = "encmodels"
    default_auto_field = "django.db.models.BigAutoField"
