"""The service clients behind :mod:`django_apiauth.client` (modules: ``docs/architecture.md``)."""

__all__ = []
