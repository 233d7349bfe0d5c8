"""The error hierarchy of django-apiauth.

Messages name the credential and the cause. They never contain a secret, a
token, an ``Authorization`` header or a raw response body (which may hold a token).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "ApiAuthError",
    "ConfigurationError",
    "CredentialNotFound",
    "DecryptionError",
    "InsecureTransportError",
    "InvalidCredentialsError",
    "MalformedTokenResponseError",
    "SecretsNotReenteredError",
    "SignatureError",
    "TokenEndpointError",
    "TokenError",
]


class ApiAuthError(Exception):
    """Base class of every error raised by django-apiauth."""


class ConfigurationError(ApiAuthError, ImproperlyConfigured):
    """A setting or a credential is missing or invalid."""


class CredentialNotFound(ApiAuthError):
    """No active credential has the requested name."""


class InsecureTransportError(ApiAuthError):
    """A request would leave over plain HTTP (or with TLS verification off)."""


class DecryptionError(ApiAuthError):
    """A stored value cannot be decrypted by any key of the key ring."""


class SignatureError(ApiAuthError):
    """A JWT or a notification signature is invalid, expired or malformed."""


class TokenError(ApiAuthError):
    """Getting an access token failed.

    ``credential`` is the credential's name, ``status_code`` the HTTP status of
    the provider's answer (``None`` when there was none) and ``error`` the OAuth
    error code it sent (``invalid_client``, ...), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        credential: str | None = None,
        status_code: int | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.credential = credential
        self.status_code = status_code
        self.error = error


class InvalidCredentialsError(TokenError):
    """The provider refused the API key/secret (400/401 with an OAuth error)."""


class TokenEndpointError(TokenError):
    """The token endpoint could not be reached or kept failing (network, timeout, 5xx).

    ``retry_after`` is the pause (seconds) a 429/503 answer asked for with
    ``Retry-After``, if any; the token store honours it fleet-wide. The other
    keywords are :class:`TokenError`'s (``credential``, ``status_code``, ``error``).
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class MalformedTokenResponseError(TokenError):
    """The token endpoint answered 200 with something that is not a usable token."""


class SecretsNotReenteredError(ApiAuthError):
    """A credential's endpoint changed but some of its stored secrets were not entered again.

    Secrets are bound to the endpoint they were entered for; saving them for
    another one would hand them to it. ``fields`` names the secrets to re-enter.
    """

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields
