"""``CheckResult``: the outcome of one credential's connectivity check, wherever it is shown.

Its own module so that the admin can use it without importing ``requests``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from django.utils import timezone
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["CheckResult"]


@dataclass(frozen=True, init=False)
class CheckResult:
    """``CheckResult(ok, method, status_code, latency_ms, detail)``, plus who and when.

    ``method`` says what was exercised (``"token"``, or ``"token+GET <CHECK_PATH>"``);
    ``status_code`` is the HTTP status of the last answer (``None`` without one);
    ``latency_ms`` is ``None`` for a check that never ran; ``detail`` is a short,
    human-readable, secret-free sentence.

    ``name`` and ``pk`` (the credential) and ``checked_at`` are keyword-only
    and deliberately not dataclass fields: the five fields above are the
    contract's shape (and what equality compares).
    """

    ok: bool
    method: str
    status_code: int | None
    latency_ms: float | None
    detail: str

    name: ClassVar[str]  # set per instance below; ClassVar keeps them out of fields()
    pk: ClassVar[int | None]
    checked_at: ClassVar[datetime]

    def __init__(
        self,
        ok: bool,
        method: str = "",
        status_code: int | None = None,
        latency_ms: float | None = None,
        detail: str = "",
        *,
        name: str = "",
        pk: int | None = None,
        checked_at: datetime | None = None,
    ) -> None:
        values = {
            "ok": ok,
            "method": method,
            "status_code": status_code,
            "latency_ms": latency_ms,
            "detail": detail,
            "name": name,
            "pk": pk,
            "checked_at": checked_at or timezone.now(),
        }
        for attribute, value in values.items():
            object.__setattr__(self, attribute, value)  # frozen: the documented way in

    @classmethod
    def failure(
        cls, credential: ApiCredential, detail: str, latency_ms: float | None = None
    ) -> CheckResult:
        """A failed check of ``credential`` without an answer (timeout, unreadable secrets)."""
        return cls(
            False, latency_ms=latency_ms, detail=detail, name=credential.name, pk=credential.pk
        )

    @property
    def summary(self) -> str:
        """One line for messages, command output and ``last_check_detail``, in the active language:
        ``"OK in 123 ms (HTTP 200, token valid for 600s)"`` or
        ``"failed: <cause> (HTTP 401, 80 ms)"``.
        """
        facts = []
        if self.status_code is not None:
            facts.append(f"HTTP {self.status_code}")
        latency = _("%(ms).0f ms") % {"ms": self.latency_ms} if self.latency_ms is not None else ""
        if self.ok:
            text = _("OK in %(latency)s") % {"latency": latency} if latency else _("OK")
            if self.detail:
                facts.append(self.detail)
        else:
            text = _("failed: %(detail)s") % {"detail": self.detail or _("no detail")}
            if latency:
                facts.append(latency)
        if facts:
            text += f" ({', '.join(facts)})"
        return text
