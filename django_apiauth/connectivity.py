"""Connectivity checks of stored credentials, run concurrently: :func:`check_credentials`.

Shared by the admin action, the change page's button and ``manage.py apiauth_check``.
Checks only use what is stored: the caller loads the credentials and their secrets are
decrypted in the calling thread before dispatch; nothing from a request is ever sent.
Worker threads never touch the database; results are written in bulk by the calling
thread. Pool size, deadlines and storage: "Admin, checks and commands" in
``docs/architecture.md``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import islice

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from django_apiauth.bulk_write import update_rows
from django_apiauth.clients.check import CheckResult
from django_apiauth.exceptions import ApiAuthError
from django_apiauth.models import ApiCredential

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "DEFAULT_TIMEOUT",
    "ConnectivityResult",
    "check_credential",
    "check_credentials",
    "select_credentials",
]

logger = logging.getLogger(__name__)

#: Checks running at once: they wait on the network, so this is what the provider tolerates.
DEFAULT_MAX_WORKERS = 32
#: Seconds one check may take before it is reported as timed out.
DEFAULT_TIMEOUT = 15.0

#: The name this module used for :class:`CheckResult` before there was one type.
ConnectivityResult = CheckResult


def select_credentials(
    names: Sequence[str] = (), *, active_only: bool = False
) -> list[ApiCredential]:
    """``ApiCredential.objects.select(names, active_only=...)``, kept for existing callers."""
    return ApiCredential.objects.select(names, active_only=active_only)


def check_credential(credential: ApiCredential) -> CheckResult:
    """Run one credential's check in the current thread; never raises for its failures."""
    # Imported here: the client pulls in requests and the token store, which the
    # admin (imported at startup by autodiscovery) should not pay for until used.
    from django_apiauth.clients.base import failure_detail
    from django_apiauth.clients.sync import ApiClient

    started = time.perf_counter()
    try:
        return ApiClient(credential).check()
    except Exception as err:
        if isinstance(err, ApiAuthError):
            detail = failure_detail(credential.name, err)
        else:
            # A foreign exception's text may quote a header; keep only its type.
            kind = type(err).__name__
            logger.warning("connectivity check of %s raised %s", credential.name, kind)
            detail = _("unexpected error (%(type)s)") % {"type": kind}
        return CheckResult.failure(credential, detail, (time.perf_counter() - started) * 1000)


def check_credentials(
    credentials: Iterable[ApiCredential],
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
    timeout: float = DEFAULT_TIMEOUT,
    save: bool = True,
) -> list[CheckResult]:
    """Check ``credentials`` concurrently and return one result each, in input order.

    At most ``max_workers`` checks run at once; a check still running
    ``timeout`` seconds after it started is reported as timed out. With
    ``save`` (the default) the results are stored in ``last_check_at``,
    ``last_check_ok`` and ``last_check_detail``. A credential whose secrets do
    not decrypt is reported as failed without contacting anyone.
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    credentials = list(credentials)
    results: dict[int, CheckResult] = {}
    runnable: list[tuple[int, ApiCredential]] = []
    for index, credential in enumerate(credentials):
        if credential.has_readable_secrets():
            runnable.append((index, credential))
        else:
            detail = _(
                "secrets cannot be decrypted with the current encryption keys; "
                "re-enter them or restore the key that encrypted them"
            )
            results[index] = CheckResult.failure(credential, detail)
    if runnable:
        results.update(_run_pool(runnable, max(1, min(max_workers, len(runnable))), timeout))
    ordered = [results[index] for index in range(len(credentials))]
    if save:
        store_results(credentials, ordered)
    return ordered


def store_results(credentials: Sequence[ApiCredential], results: Sequence[CheckResult]) -> None:
    """Write results to ``last_check_*`` of the rows and of the given instances.

    In bulk, bypassing ``save()``: a check must not rewrite the secrets nor bump ``updated_at``.
    """
    columns = ("last_check_at", "last_check_ok", "last_check_detail")
    rows_by_db: dict[str, list[tuple]] = {}
    for credential, result in zip(credentials, results, strict=True):
        values = (result.checked_at, result.ok, result.summary[:255])  # a 255-character column
        for column, value in zip(columns, values, strict=True):
            setattr(credential, column, value)
        using = credential._state.db or DEFAULT_DB_ALIAS
        rows_by_db.setdefault(using, []).append((credential.pk, *values))
    for using, rows in rows_by_db.items():
        with transaction.atomic(using=using):
            update_rows(ApiCredential, columns, rows, using=using)


def _run_pool(
    runnable: list[tuple[int, ApiCredential]], workers: int, timeout: float
) -> dict[int, CheckResult]:
    """Run the checks, at most ``workers`` in flight.

    A sliding window rather than submitting everything at once: waiting on
    ``workers`` futures costs the same at 10 or 10,000 credentials.
    """
    results: dict[int, CheckResult] = {}
    language = translation.get_language()  # thread-local: each worker activates it again
    started_at: dict[int, float] = {}  # written by workers; dict item writes are atomic
    queue = iter(runnable)
    in_flight: dict[Future[CheckResult], tuple[int, ApiCredential]] = {}
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apiauth-check")
    # A hung check keeps its worker busy past its deadline, which could
    # starve the queue; this bounds the whole call whatever happens.
    budget = timeout * (math.ceil(len(runnable) / workers) + 1)
    give_up_at = time.monotonic() + budget
    try:
        while True:
            for index, credential in islice(queue, workers - len(in_flight)):
                future = executor.submit(_worker, credential, index, started_at, language)
                in_flight[future] = (index, credential)
            if not in_flight:
                break
            wakeup = _next_wakeup(in_flight, started_at, timeout, give_up_at)
            done, _pending = wait(in_flight, timeout=wakeup, return_when=FIRST_COMPLETED)
            for future in done:
                index, _credential = in_flight.pop(future)
                results[index] = future.result()
            _expire(in_flight, results, started_at, timeout)
            if time.monotonic() >= give_up_at:
                _give_up(in_flight, queue, results, started_at, budget)
    finally:
        # Don't wait for abandoned checks; queued ones are cancelled.
        executor.shutdown(wait=False, cancel_futures=True)
    return results


def _expire(in_flight, results, started_at, timeout: float) -> None:
    """Report checks running for ``timeout`` as timed out; their slots go to the next ones.

    The abandoned check keeps its thread until the transport's own timeouts end it: the
    next one waits in the executor's queue meanwhile, its deadline starting when it does.
    """
    now = time.monotonic()
    for future, (index, credential) in list(in_flight.items()):
        began = started_at.get(index)
        if began is not None and now - began >= timeout:
            del in_flight[future]
            results[index] = CheckResult.failure(
                credential,
                _("timed out after %(seconds)g s") % {"seconds": timeout},
                (now - began) * 1000,
            )


def _give_up(in_flight, queue, results, started_at, budget: float) -> None:
    for index, credential in [*in_flight.values(), *queue]:
        cause = (
            _("not started: all checks together took longer than %(seconds)g s")
            if started_at.get(index) is None
            else _("timed out: all checks together took longer than %(seconds)g s")
        ) % {"seconds": budget}
        results[index] = CheckResult.failure(credential, cause)
    in_flight.clear()


def _next_wakeup(in_flight, started_at, timeout: float, give_up_at: float) -> float:
    """Seconds until the earliest running check's deadline (or the global one)."""
    began = [started_at[index] for index, _credential in in_flight.values() if index in started_at]
    deadline = min([give_up_at, *(start + timeout for start in began)])
    # Checks that start later have later deadlines; polling now and then catches them.
    return max(0.01, min(deadline - time.monotonic(), timeout))


def _worker(credential: ApiCredential, index: int, started_at: dict, language) -> CheckResult:
    started_at[index] = time.monotonic()
    try:
        with translation.override(language):
            return check_credential(credential)
    finally:
        # Whatever the client touched opened a connection owned by this thread.
        connections.close_all()
