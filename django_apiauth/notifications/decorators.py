"""The decorator and the mixin that make a site's own view a notification receiver.

Both run the view through :func:`~django_apiauth.notifications.receive.handle`, once per
notification.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from django_apiauth.exceptions import ConfigurationError
from django_apiauth.notifications.receive import (
    SCHEMES,
    Notification,
    ahandle,
    handle,
    schemes_of,
)

__all__ = ["VerifiedNotificationMixin", "verified_notification"]


def verified_notification(
    credential: str, *, scheme: str | Iterable[str] = SCHEMES
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a function view (sync or ``async``) that receives notifications.

    The view runs once per notification — a POST whose signature verifies
    against the signature secret of the active credential ``credential``, in a
    ``scheme`` the view accepts (``"hash"`` for payments, ``"jwt"`` for
    transfers; both by default) — with the :class:`Notification` in
    ``request.notification``. It is CSRF-exempt: the signature authenticates.
    """
    if not isinstance(credential, str) or not credential:
        # Catches the bare ``@verified_notification`` (without a credential name).
        raise TypeError(
            "verified_notification needs the credential's name: @verified_notification('name')"
        )
    schemes = schemes_of(scheme)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        name = f"{view.__module__}.{view.__qualname__}"
        is_async = inspect.iscoroutinefunction(view)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return _run(request, credential, schemes, name, view, is_async, args, kwargs)

        # Marked: Django (csrf_exempt included) then serves it as the async view it is.
        return csrf_exempt(markcoroutinefunction(wrapper) if is_async else wrapper)

    return decorator


@method_decorator(csrf_exempt, name="dispatch")
class VerifiedNotificationMixin:
    """Class-based counterpart of :func:`verified_notification` (sync or ``async`` handlers).

    Set ``notification_credential`` (or override :meth:`get_notification_credential`),
    optionally ``notification_scheme`` (``"hash"``, ``"jwt"`` or both, the
    default), and implement ``post()``; ``self.request.notification`` holds the
    verified notification.
    """

    notification_credential: str = ""
    notification_scheme: str | tuple[str, ...] = SCHEMES

    def get_notification_credential(self) -> str:
        if not self.notification_credential:
            # A programming error, not a request error: fail loudly rather than answer 503.
            raise ConfigurationError(
                f"{type(self).__name__} must set notification_credential "
                "(or override get_notification_credential)"
            )
        return self.notification_credential

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        credential = self.get_notification_credential()
        schemes = schemes_of(self.notification_scheme)
        name = f"{type(self).__module__}.{type(self).__qualname__}"
        parent = super().dispatch  # type: ignore[misc]
        is_async = getattr(self, "view_is_async", False)
        return _run(request, credential, schemes, name, parent, is_async, args, kwargs)


def _run(request, credential, schemes, handler, view, is_async, args, kwargs) -> Any:
    """:func:`handle` (or, for an async ``view``, the coroutine of ``ahandle``) of ``view``."""

    def work(notification: Notification) -> Any:
        request.notification = notification
        return view(request, *args, **kwargs)

    if is_async:
        return ahandle(request, credential, schemes, markcoroutinefunction(work), handler=handler)
    return handle(request, credential, schemes, work, handler=handler)
