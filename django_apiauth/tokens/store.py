"""The token store: one token per credential for the fleet, and its policy.

Process memory first (no I/O), then the shared cache, then the provider under a
fleet-wide lease; refreshes run in the background and a refused token is judged
here. The design: ``docs/tokens.md`` and ``docs/architecture.md``.
"""

from __future__ import annotations

import functools
import json
from concurrent.futures import Future
from typing import TYPE_CHECKING

from django.core.signals import setting_changed
from django.dispatch import receiver

from django_apiauth import clock, crypto, telemetry
from django_apiauth.tokens import memory, shared_cache
from django_apiauth.tokens.failures import Failures
from django_apiauth.tokens.obtain import Obtainer
from django_apiauth.tokens.values import Block, CacheKeys, Token

if TYPE_CHECKING:
    from django_apiauth.models import ApiCredential

__all__ = ["Token", "TokenStore", "clear_process_memory", "fingerprint"]


def clear_process_memory() -> None:
    """Forget every token and remembered failure held by this process (not the shared cache)."""
    memory.clear()
    shared_cache.reset()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting in {"APIAUTH", "CACHES", "SECRET_KEY"}:
        clear_process_memory()


def fingerprint(base_url: str, api_key: str, api_secret: str) -> str:
    """A keyed hash of what identifies a token: editing any part orphans the old token.

    Keyed by the key ring (a sub-key of its primary key), so the cache key
    reveals nothing about the secret, even to someone who can list the cache's keys.
    """
    message = json.dumps([base_url, api_key, api_secret]).encode("utf-8")
    return crypto.get_key_ring().mac("token-fingerprint", message)[:32]


class TokenStore:
    """The token of one credential, shared by every thread, process and host using it.

    Cheap to construct: the state lives in this process's slot for the credential
    (:mod:`~django_apiauth.tokens.memory`) and in the shared cache.
    """

    def __init__(self, credential: ApiCredential) -> None:
        self.credential = credential
        self.name = credential.name
        self.endpoint = credential.endpoint
        fp = fingerprint(self.endpoint, credential.api_key, credential.api_secret)
        self.keys = keys = CacheKeys(credential.pk, fp)
        self.key, self.lease_key = keys.token, keys.lease
        owner = credential.pk if credential.pk is not None else self.key
        self._slot = slot = memory.slot_for(owner, self.key)
        self._failures = failures = Failures(slot, keys)
        self._obtainer = Obtainer(credential, slot, failures, endpoint=self.endpoint, keys=keys)
        #: ``cached()``: the token held in process memory, if any (no I/O). A C-level
        #: call rather than a method, because it is the bearer fast path: callers
        #: use the token while ``clock.current.monotonic() < token.refresh_at`` and
        #: call :meth:`get` otherwise (which still answers at once while it is usable).
        self.cached = functools.partial(getattr, slot, "token")

    def __repr__(self) -> str:
        return f"<TokenStore credential={self.name!r}>"

    # -- reading ---------------------------------------------------------------

    def get(self) -> Token:
        """A usable token, at memory speed whenever one exists.

        In its refresh window the current token is returned at once and a
        background refresh is started (if none runs). With no usable token, the
        caller waits for this process's obtain (see :meth:`pending`).
        """
        token = self._slot.token
        if token is not None:
            now = clock.current.monotonic()
            if now < token.use_until:
                if now >= token.refresh_at and not self._slot.running:
                    self._obtainer.start()
                return token
        return self._obtainer.wait()

    def access_token(self) -> str:
        """The current access token as a string (see :meth:`get`)."""
        return self.get().value

    def peek(self) -> tuple[Token | None, Token | None, Block | None]:
        """For reports, changing nothing: the token held here, the shared one, the block."""
        return (self._slot.usable(), *self._obtainer.read_shared())

    def pending(self) -> Future[Token]:
        """The in-flight obtain of this process for this credential, started if none runs.

        Resolves with a usable token or raises the ``TokenError``. The future is
        already running, so cancelling it (or the asyncio task awaiting it) does
        not stop the obtain, the fetch or the lease: other callers share them.
        """
        return self._obtainer.pending()

    def fetch_fresh(self) -> Token:
        """A brand-new token from the provider, bypassing every cache (for checks).

        The new token is then shared as usual; failures are remembered as usual,
        and a success ends whatever failure was remembered: the provider answers.
        """
        token = self._obtainer.fetch(None)
        self._failures.forget()
        return token

    # -- rejected and dropped tokens ------------------------------------------------

    def proven(self, token: Token) -> None:
        """A call made with ``token`` was answered with anything but a refusal."""
        token.proven = True
        self._failures.proven()

    def rejected(self, sent: str) -> Token | None:
        """The provider refused the token ``sent`` (401, or 403 ``invalid_token``).

        Returns the token to replay the call with, or ``None`` when there is
        none worth a replay. Judged per token, not per clock window: a stale
        ``sent`` is answered with the newest token at once; a current one is
        dropped by compare-and-delete, so one fetch runs fleet-wide for all the
        callers it refused; a replacement refused before any call accepted it
        makes the fleet pause instead (``docs/tokens.md``).
        """
        telemetry.token_rejected(self.name)
        current = self._slot.usable()
        shared, values = self._obtainer.read_shared_values()
        known = [t for t in (shared, current) if t is not None]
        refused = next((t for t in known if t.value == sent), None)
        # A token newer than the refused one: another process may have replaced the one
        # held here (on a tie, the fleet's: the shared one). An older one is no answer.
        newer = [
            t
            for t in known
            if t.value != sent and (refused is None or t.use_until > refused.use_until)
        ]
        if newer:
            newest = max(newer, key=lambda t: t.use_until)
            return newest if newest is current else self._slot.adopt(newest)
        if refused is None:
            return self.get()  # dropped already, here: wait for its replacement
        record = self._failures.rejections(values)
        if not refused.proven and record is not None:
            if record.pausing():
                return None
            if record.replaced_before(refused) and not record.until:
                self._failures.pause(record)  # a replacement refused on first use
                return None
        self._failures.replacing(None if refused.proven else record)
        self.invalidate(sent)
        if shared is not None and shared is not refused:
            # Older than the refused token (it never reached the cache, say): no answer
            # either, and the obtain must not adopt it in place of a new one.
            self.invalidate(shared.value)
        return self.get()

    def invalidate(self, token_value: str | None = None) -> None:
        """Drop the token, everywhere.

        With ``token_value`` (compare-and-delete), only if it is still the stored
        token: a 401 proves *that* token dead, not the fresh one another worker
        may already have put in its place.
        """
        shared_is_it = True
        if token_value is not None:
            shared, _ = self._obtainer.read_shared()  # before the drop, which would hide it
            shared_is_it = shared is not None and shared.value == token_value
        self._slot.drop(token_value)
        if shared_is_it:
            shared_cache.delete(self.key)

    def clear(self) -> None:
        """Drop the token and any remembered failure for this credential (memory and cache)."""
        self.invalidate()
        self._failures.forget(self.lease_key)
