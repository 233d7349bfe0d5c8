from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The example merchant: receives the provider's notifications and runs the demo."""

    name = "shop"
    verbose_name = "Example shop"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            receivers,  # noqa: F401  (connects the notification receiver)
            telemetry,
        )

        telemetry.configure()  # before any request: the app's instruments are made on proxies
