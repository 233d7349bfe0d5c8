"""``check_credentials``: bounded concurrency, per-check timeout, storage in the caller."""

from __future__ import annotations

import re
import threading

import pytest

from django_apiauth import connectivity
from django_apiauth.clients.check import CheckResult
from django_apiauth.connectivity import check_credentials
from django_apiauth.exceptions import ApiAuthError, CredentialNotFound
from django_apiauth.models import ApiCredential

pytestmark = pytest.mark.django_db

#: An UPDATE statement as logged (SQLite's executemany: "<n> times: UPDATE ...").
UPDATE = re.compile(r"(\d+ times: )?UPDATE")


def make(count):
    return [
        ApiCredential.objects.create(name=f"c{i:02d}", api_key=f"key{i}", api_secret="s")
        for i in range(count)
    ]


def ok(credential):
    return CheckResult(name=credential.name, pk=credential.pk, ok=True, detail="")


def test_results_come_back_in_input_order(fake_checks):
    credentials = make(6)
    results = check_credentials(reversed(credentials))
    assert [r.name for r in results] == [c.name for c in reversed(credentials)]


def test_checks_run_concurrently(monkeypatch):
    # Four checks that each wait for all four to be running: run one after
    # another, the barrier would break (BrokenBarrierError) instead of passing.
    barrier = threading.Barrier(4, timeout=10)

    def check(credential):
        barrier.wait()
        return ok(credential)

    monkeypatch.setattr(connectivity, "check_credential", check)
    results = check_credentials(make(4), max_workers=4)
    assert all(r.ok for r in results)


def test_no_more_than_max_workers_run_at_once(monkeypatch):
    lock = threading.Lock()
    running = peak = 0

    def check(credential):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.02)
        with lock:
            running -= 1
        return ok(credential)

    monkeypatch.setattr(connectivity, "check_credential", check)
    check_credentials(make(12), max_workers=3)
    assert peak <= 3


def test_a_check_over_its_timeout_is_reported_as_timed_out(monkeypatch):
    release = threading.Event()
    slow, fast = make(2)

    def check(credential):
        if credential.pk == slow.pk:
            release.wait(10)
        return ok(credential)

    monkeypatch.setattr(connectivity, "check_credential", check)
    try:
        results = check_credentials([slow, fast], timeout=0.2)
    finally:
        release.set()
    assert [(r.ok, r.detail) for r in results] == [(False, "timed out after 0.2 s"), (True, "")]


def test_the_pool_never_tracks_more_checks_than_workers(fake_checks, monkeypatch):
    # Waiting on every pending future after each completion is what made 10,000
    # credentials quadratic; only the checks in flight may be waited on.
    tracked = []
    real_wait = connectivity.wait

    def recording_wait(futures, **kwargs):
        tracked.append(len(futures))
        return real_wait(futures, **kwargs)

    monkeypatch.setattr(connectivity, "wait", recording_wait)
    results = check_credentials(make(40), max_workers=4)
    assert len(results) == 40
    assert max(tracked) <= 4


def test_a_timed_out_check_gives_its_slot_to_the_next_one(monkeypatch):
    release = threading.Event()
    slow, *others = make(4)

    def check(credential):
        if credential.pk == slow.pk:
            release.wait(10)
        return ok(credential)

    monkeypatch.setattr(connectivity, "check_credential", check)
    try:
        results = check_credentials([slow, *others], max_workers=2, timeout=0.3)
    finally:
        release.set()
    assert [r.ok for r in results] == [False, True, True, True]


def test_results_are_saved_with_one_update_per_batch(fake_checks, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_apiauth import bulk_write

    monkeypatch.setattr(bulk_write, "DEFAULT_BATCH_SIZE", 10)
    credentials = make(25)
    with CaptureQueriesContext(connection) as queries:
        check_credentials(credentials)
    updates = [q["sql"] for q in queries if UPDATE.match(q["sql"])]  # "25 times: UPDATE ..."
    expected = 1 if connection.vendor == "sqlite" else 3  # executemany is one statement
    assert len(updates) == expected
    stored = ApiCredential.objects.filter(last_check_ok=True).count()
    assert stored == 25


def test_results_are_stored_in_last_check_fields(fake_checks):
    (credential,) = make(1)
    fake_checks.failing[credential.name] = "invalid_client"
    check_credentials([credential])
    stored = ApiCredential.objects.get(pk=credential.pk)
    assert stored.last_check_ok is False
    assert stored.last_check_detail == "failed: invalid_client (HTTP 401, 12 ms)"
    assert stored.last_check_at is not None
    assert credential.last_check_ok is False  # the instance passed in is updated too


def test_storing_a_result_does_not_touch_updated_at(fake_checks):
    (credential,) = make(1)
    before = ApiCredential.objects.get(pk=credential.pk).updated_at
    check_credentials([credential])
    assert ApiCredential.objects.get(pk=credential.pk).updated_at == before


def test_save_false_stores_nothing(fake_checks):
    (credential,) = make(1)
    check_credentials([credential], save=False)
    assert ApiCredential.objects.get(pk=credential.pk).last_check_at is None


def test_a_long_detail_is_truncated_to_the_column(fake_checks):
    (credential,) = make(1)
    fake_checks.failing[credential.name] = "x" * 400
    check_credentials([credential])
    assert len(ApiCredential.objects.get(pk=credential.pk).last_check_detail) == 255


def test_our_own_untranslated_errors_become_a_failed_result_and_a_log_line(monkeypatch, caplog):
    class Client:
        def __init__(self, credential):
            pass

        def check(self):
            raise ApiAuthError("unknown environment 'moon'")

    monkeypatch.setattr("django_apiauth.clients.sync.ApiClient", Client)
    (result,) = check_credentials(make(1), save=False)
    # Not the English text in a translated sentence: the type, and the text in the log.
    assert (result.ok, result.detail) == (
        False,
        "the check could not run (ApiAuthError; the server log says why)",
    )
    assert "unknown environment 'moon'" in caplog.text


def test_foreign_errors_become_a_failed_result_naming_only_their_type(monkeypatch, caplog):
    class Client:
        def __init__(self, credential):
            pass

        def check(self):
            raise ValueError("Invalid header value b'Basic c2VjcmV0'")

    monkeypatch.setattr("django_apiauth.clients.sync.ApiClient", Client)
    (result,) = check_credentials(make(1), save=False)
    assert (result.ok, result.detail) == (False, "unexpected error (ValueError)")
    assert "c2VjcmV0" not in caplog.text


def test_selecting_credentials_keeps_the_order_asked_for():
    make(3)
    assert [c.name for c in ApiCredential.objects.select(["c02", "c00"])] == ["c02", "c00"]


def test_selecting_credentials_names_every_unknown_name():
    make(1)
    with pytest.raises(CredentialNotFound, match="'nope', 'nada'"):
        ApiCredential.objects.select(["c00", "nope", "nada"])


def test_selecting_credentials_active_only_skips_inactive():
    first, second = make(2)
    ApiCredential.objects.filter(pk=second.pk).update(is_active=False)
    assert [c.name for c in ApiCredential.objects.select(active_only=True)] == ["c00"]


def test_summary_of_a_success():
    result = CheckResult(
        name="x", pk=1, ok=True, method="token", status_code=200, latency_ms=87.4, detail=""
    )
    assert result.summary == "OK in 87 ms (HTTP 200)"


def test_summary_of_a_failure_without_an_answer():
    result = CheckResult(name="x", pk=1, ok=False, detail="connection refused")
    assert result.summary == "failed: connection refused"


def test_the_old_names_still_work():
    # Released names, kept for existing callers: one type, one selection.
    assert connectivity.ConnectivityResult is CheckResult
    make(1)
    assert [c.name for c in connectivity.select_credentials(["c00"])] == ["c00"]
