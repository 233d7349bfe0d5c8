"""Connectivity checks of stored credentials, run concurrently.

One public entry point, :func:`check_credentials`, shared by the admin action,
the change page's "Test connectivity" button and ``manage.py apiauth_check``:

* each credential's ``ApiClient(credential).check()`` runs in a bounded thread
  pool, so fifty credentials against a provider answering in 300 ms take about
  a second instead of fifteen;
* every check has its own deadline: a provider that hangs costs one slow line,
  not a hung admin page (the transport's own timeouts end the abandoned thread);
* results are written to ``last_check_*`` in the *calling* thread: worker
  threads never touch the database (they close any connection they opened), so
  there is no connection leak and no cross-thread transaction surprise;
* checks only use what is stored: the credential objects are loaded from the
  database by the caller and their secrets are decrypted (at load time) in the
  calling thread before dispatch; nothing from a request is ever sent.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.db import connections

from .check_result import CheckResult
from .exceptions import ApiAuthError
from .models import ApiCredential

logger = logging.getLogger(__name__)

#: Checks running at the same time. Checks wait on the network, not the CPU,
#: so this is about what the provider tolerates from one merchant, not cores.
DEFAULT_MAX_WORKERS = 32
#: Seconds one check may take before it is reported as timed out.
DEFAULT_TIMEOUT = 15.0
#: ``last_check_detail`` is a 255-character column.
DETAIL_MAX_LENGTH = 255

UNREADABLE_DETAIL = (
    "secrets cannot be decrypted with the current encryption keys; "
    "re-enter them or restore the key that encrypted them"
)


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
    from .client import ApiClient

    started = time.perf_counter()
    try:
        return ApiClient(credential).check()
    except ApiAuthError as err:
        # Our own errors never carry secrets (exceptions.py's contract).
        return CheckResult.failure(credential, str(err), _elapsed_ms(started))
    except Exception as err:
        # A foreign exception's text may quote a header; keep only its type.
        logger.warning("connectivity check of %s raised %s", credential.name, type(err).__name__)
        return CheckResult.failure(
            credential, f"unexpected error ({type(err).__name__})", _elapsed_ms(started)
        )


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
            results[index] = CheckResult.failure(credential, UNREADABLE_DETAIL)
    if runnable:
        results.update(_run_pool(runnable, max(1, min(max_workers, len(runnable))), timeout))
    ordered = [results[index] for index in range(len(credentials))]
    if save:
        store_results(credentials, ordered)
    return ordered


def store_results(credentials: Sequence[ApiCredential], results: Sequence[CheckResult]) -> None:
    """Write results to ``last_check_*`` of the rows and of the given instances.

    ``update()`` rather than ``save()``: a check must not rewrite the secrets
    (an undecryptable one included) nor bump ``updated_at``.
    """
    for credential, result in zip(credentials, results, strict=True):
        detail = result.summary[:DETAIL_MAX_LENGTH]
        ApiCredential.objects.filter(pk=credential.pk).update(
            last_check_at=result.checked_at, last_check_ok=result.ok, last_check_detail=detail
        )
        credential.last_check_at = result.checked_at
        credential.last_check_ok = result.ok
        credential.last_check_detail = detail


def _run_pool(
    runnable: list[tuple[int, ApiCredential]], workers: int, timeout: float
) -> dict[int, CheckResult]:
    results: dict[int, CheckResult] = {}
    started_at: dict[int, float] = {}  # written by workers; dict item writes are atomic
    by_index = dict(runnable)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apiauth-check")
    try:
        futures: dict[Future[CheckResult], int] = {
            executor.submit(_worker, credential, index, started_at): index
            for index, credential in runnable
        }
        # A hung check keeps its worker busy past its deadline, which could
        # starve the queue; this bounds the whole call whatever happens.
        rounds = math.ceil(len(runnable) / workers)
        give_up_at = time.monotonic() + timeout * (rounds + 1)
        pending = set(futures)
        while pending:
            done, pending = wait(
                pending,
                timeout=_next_wakeup(pending, futures, started_at, timeout, give_up_at),
                return_when=FIRST_COMPLETED,
            )
            for future in done:
                results[futures[future]] = future.result()
            now = time.monotonic()
            for future in list(pending):
                index = futures[future]
                began = started_at.get(index)
                if began is not None and now - began >= timeout:
                    pending.discard(future)
                    results[index] = CheckResult.failure(
                        by_index[index], f"timed out after {timeout:g} s", (now - began) * 1000
                    )
                elif now >= give_up_at:
                    pending.discard(future)
                    budget = f"{timeout * (rounds + 1):g} s"
                    cause = (
                        f"not started: all checks together took longer than {budget}"
                        if began is None
                        else f"timed out: all checks together took longer than {budget}"
                    )
                    results[index] = CheckResult.failure(by_index[index], cause)
    finally:
        # Don't wait for abandoned checks; queued ones are cancelled.
        executor.shutdown(wait=False, cancel_futures=True)
    return results


def _next_wakeup(
    pending: set[Future[CheckResult]],
    futures: dict[Future[CheckResult], int],
    started_at: dict[int, float],
    timeout: float,
    give_up_at: float,
) -> float:
    """Seconds until the earliest running check's deadline (or the global one)."""
    deadlines = [give_up_at]
    for future in pending:
        began = started_at.get(futures[future])
        if began is not None:
            deadlines.append(began + timeout)
    # Checks that start later have later deadlines; polling now and then catches them.
    return max(0.01, min(min(deadlines) - time.monotonic(), timeout))


def _worker(credential: ApiCredential, index: int, started_at: dict[int, float]) -> CheckResult:
    started_at[index] = time.monotonic()
    try:
        return check_credential(credential)
    finally:
        # Whatever the client touched opened a connection owned by this thread.
        connections.close_all()


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
