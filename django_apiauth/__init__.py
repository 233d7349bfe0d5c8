"""django-apiauth: encrypted credentials, shared access tokens and a safe API client."""

__all__ = ["__version__"]

__version__ = "0.1.0"
