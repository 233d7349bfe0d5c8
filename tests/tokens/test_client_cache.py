"""``get_client`` keeps one client per credential per process, and sees edits promptly.

"Another process" is simulated the way it looks from here: its write changes
the row (raw SQL, so no signal of this process fires) and, once committed,
writes a new stamp to the shared cache (``stamps.bump``). That a
save does write the stamp is tested separately, so the chain is covered.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone

from django_apiauth import credential_cache, stamps
from django_apiauth.client import ApiClient, get_client
from django_apiauth.exceptions import CredentialNotFound
from django_apiauth.models import ApiCredential

from .cachebackends import StoppableCache
from .keepalive import KeepAliveProvider

pytestmark = pytest.mark.django_db

TABLE = ApiCredential._meta.db_table


def write_elsewhere(credential: ApiCredential, *, bump: bool = True, **columns: object) -> None:
    """What another process's save looks like from here: the row changes, then its stamp."""
    columns.setdefault("updated_at", timezone.now())
    assignments = ", ".join(f"{name} = %s" for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET {assignments} WHERE id = %s",
            [*columns.values(), credential.pk],
        )
    if bump:
        stamps.bump([credential.pk])


@pytest.fixture
def stoppable_stamp_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "tests.tokens.cachebackends.StoppableCache", "LOCATION": "stamps"}
    }
    StoppableCache.stopped = False
    StoppableCache.fail_next = 0
    yield StoppableCache
    StoppableCache.stopped = False


# --- the warm path -------------------------------------------------------------------


def test_get_client_returns_the_same_client_each_time(credential):
    first = get_client("shop")
    assert get_client("shop") is first
    assert get_client("shop").session is first.session


def test_a_warm_get_client_runs_no_query(credential, django_assert_num_queries):
    get_client("shop")
    with django_assert_num_queries(0):
        get_client("shop")


def test_a_warm_get_client_decrypts_nothing(credential, decryptions):
    get_client("shop").access_token()
    decryptions.clear()
    client = get_client("shop")
    client.access_token()
    assert decryptions == []


def test_a_cold_get_client_decrypts_nothing_until_a_call_needs_a_secret(credential, decryptions):
    get_client("shop")
    assert decryptions == []


def test_the_stamp_is_read_at_most_once_per_interval(credential, clock, monkeypatch):
    reads = []
    original = stamps.read_stamp
    monkeypatch.setattr(stamps, "read_stamp", lambda pk: reads.append(pk) or original(pk))
    get_client("shop")
    reads.clear()
    for _ in range(50):
        get_client("shop")
    assert reads == []
    clock.advance(credential_cache.STAMP_INTERVAL)
    for _ in range(50):
        get_client("shop")
    assert reads == [credential.pk]


def test_calls_through_get_client_reuse_one_keep_alive_connection(db, apiauth):
    apiauth(ALLOW_INSECURE_LOOPBACK=True)
    with KeepAliveProvider() as server:
        ApiCredential.objects.create(name="live", base_url=server.url, api_key="k", api_secret="s")
        get_client("live").get("/api/things")
        opened = server.connections  # the token request's and the first call's
        for _ in range(5):
            assert get_client("live").get("/api/things").json() == {"ok": True}
        assert server.connections == opened


def test_threads_share_the_client_and_its_single_token(credential, fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/things", json={"ok": True})
    get_client("shop")  # the row is read here: the threads share the in-memory test database
    barrier = threading.Barrier(8)
    seen, errors = [], []

    def call():
        try:
            barrier.wait()
            client = get_client("shop")
            seen.append((client, client.session, client.get("/api/things").status_code))
        except Exception as err:  # reported below
            errors.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {status for _, _, status in seen} == {200}
    assert len({id(session) for _, session, _ in seen}) == 1
    assert fake_provider.token_requests == 1


@pytest.mark.django_db(transaction=True)
def test_a_shared_client_builds_one_session_when_threads_race(fake_provider):
    credential = fake_provider.create_credential(name="racy")
    client = ApiClient(credential)
    barrier = threading.Barrier(8)
    sessions = []

    def touch():
        barrier.wait()
        sessions.append(client.session)

    threads = [threading.Thread(target=touch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(session) for session in sessions}) == 1


# --- edits made in another process -----------------------------------------------------


def test_an_edit_elsewhere_is_seen_once_the_stamp_interval_passed(credential, clock):
    before = get_client("shop")
    write_elsewhere(credential, merchant_uid="m-2")
    clock.advance(credential_cache.STAMP_INTERVAL)
    after = get_client("shop")
    assert after is not before
    assert after.credential.merchant_uid == "m-2"


def test_a_deactivation_elsewhere_makes_the_name_unknown(credential, clock):
    get_client("shop")
    write_elsewhere(credential, is_active=False)
    clock.advance(credential_cache.STAMP_INTERVAL)
    with pytest.raises(CredentialNotFound, match="'shop'"):
        get_client("shop")


def test_a_deletion_elsewhere_makes_the_name_unknown(credential, clock):
    get_client("shop")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [credential.pk])
    stamps.bump([credential.pk])
    clock.advance(credential_cache.STAMP_INTERVAL)
    with pytest.raises(CredentialNotFound):
        get_client("shop")


def test_a_rename_elsewhere_makes_the_old_name_unknown(credential, clock):
    get_client("shop")
    write_elsewhere(credential, name="boutique")
    clock.advance(credential_cache.STAMP_INTERVAL)
    with pytest.raises(CredentialNotFound):
        get_client("shop")
    assert get_client("boutique").credential.pk == credential.pk


def test_the_client_of_an_edited_credential_is_closed(credential, clock, monkeypatch):
    before = get_client("shop")
    closed = []
    monkeypatch.setattr(before, "close", lambda: closed.append(True))
    write_elsewhere(credential, merchant_uid="m-2")
    clock.advance(credential_cache.STAMP_INTERVAL)
    get_client("shop")
    assert closed == [True]


def test_a_vanished_stamp_reloads_the_client(credential, clock):
    before = get_client("shop")
    from django.core.cache import cache

    cache.clear()  # evicted, or the cache restarted
    clock.advance(credential_cache.STAMP_INTERVAL)
    assert get_client("shop") is not before


def test_an_edit_whose_stamp_was_lost_is_seen_by_the_database_recheck(credential, clock):
    before = get_client("shop")
    write_elsewhere(credential, merchant_uid="m-2", bump=False)
    clock.advance(credential_cache.STAMP_INTERVAL)
    assert get_client("shop") is before  # the stamp says nothing changed
    clock.advance(credential_cache.RECHECK_INTERVAL)
    assert get_client("shop").credential.merchant_uid == "m-2"


def test_with_the_cache_down_an_edit_is_seen_through_the_database(
    credential, clock, stoppable_stamp_cache
):
    before = get_client("shop")
    stoppable_stamp_cache.stopped = True
    write_elsewhere(credential, merchant_uid="m-2")  # its stamp write fails too
    clock.advance(credential_cache.STAMP_INTERVAL)
    after = get_client("shop")
    assert after is not before
    assert after.credential.merchant_uid == "m-2"


def test_with_the_cache_down_the_database_is_asked_once_per_interval(
    credential, clock, stoppable_stamp_cache, django_assert_num_queries
):
    get_client("shop")
    stoppable_stamp_cache.stopped = True
    clock.advance(credential_cache.STAMP_INTERVAL)
    with django_assert_num_queries(1):
        for _ in range(20):
            get_client("shop")


def test_a_client_built_while_the_cache_was_down_is_reloaded_when_it_is_back(
    credential, clock, stoppable_stamp_cache
):
    from django_apiauth.tokens import shared_cache as token_cache

    stoppable_stamp_cache.stopped = True
    before = get_client("shop")
    stoppable_stamp_cache.stopped = False
    token_cache.reset()
    clock.advance(credential_cache.STAMP_INTERVAL)
    assert get_client("shop") is not before


# --- edits made here: the stamp, and this process's own clients -------------------------


def test_save_writes_a_new_stamp_once_committed(credential, django_capture_on_commit_callbacks):
    get_client("shop")
    before, _ = stamps.read_stamp(credential.pk)
    with django_capture_on_commit_callbacks(execute=True):
        credential.merchant_uid = "m-2"
        credential.save()
    after, _ = stamps.read_stamp(credential.pk)
    assert after is not None
    assert after != before


def test_save_writes_no_stamp_before_the_commit(credential, django_capture_on_commit_callbacks):
    get_client("shop")
    before, _ = stamps.read_stamp(credential.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        credential.merchant_uid = "m-2"
        credential.save()
        assert stamps.read_stamp(credential.pk)[0] == before
    assert len(callbacks) == 1


def test_saving_only_the_check_status_keeps_the_stamp(
    credential, django_capture_on_commit_callbacks
):
    get_client("shop")
    before, _ = stamps.read_stamp(credential.pk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        credential.last_check_ok = True
        credential.save(update_fields=["last_check_ok"])
    assert callbacks == []
    assert stamps.read_stamp(credential.pk)[0] == before


def test_delete_writes_a_new_stamp(credential, django_capture_on_commit_callbacks):
    get_client("shop")
    before, _ = stamps.read_stamp(credential.pk)
    with django_capture_on_commit_callbacks(execute=True):
        ApiCredential.objects.filter(pk=credential.pk).delete()
    assert stamps.read_stamp(credential.pk)[0] != before


def test_queryset_update_writes_a_new_stamp(credential, django_capture_on_commit_callbacks):
    get_client("shop")
    before, _ = stamps.read_stamp(credential.pk)
    with django_capture_on_commit_callbacks(execute=True):
        ApiCredential.objects.filter(name="shop").update(is_active=False)
    assert stamps.read_stamp(credential.pk)[0] != before


def test_queryset_update_sets_updated_at_like_save(credential):
    before = credential.updated_at
    ApiCredential.objects.filter(pk=credential.pk).update(merchant_uid="m-2")
    credential.refresh_from_db()
    assert credential.updated_at > before


def test_queryset_update_of_the_check_status_keeps_updated_at_and_stamp(
    credential, django_capture_on_commit_callbacks
):
    before = credential.updated_at
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ApiCredential.objects.filter(pk=credential.pk).update(last_check_ok=False)
    credential.refresh_from_db()
    assert credential.updated_at == before
    assert callbacks == []


def test_a_deactivation_here_is_seen_at_once(credential):
    get_client("shop")
    credential.is_active = False
    credential.save()
    with pytest.raises(CredentialNotFound):
        get_client("shop")


def test_an_edit_here_is_seen_at_once(credential):
    before = get_client("shop")
    ApiCredential.objects.filter(pk=credential.pk).update(merchant_uid="m-2")
    assert get_client("shop").credential.merchant_uid == "m-2"
    assert get_client("shop") is not before


def test_a_new_row_under_a_cached_name_replaces_the_cached_client(fake_provider, db):
    old = fake_provider.create_credential(name="shop")
    get_client("shop")
    with connection.cursor() as cursor:  # gone without a signal (a rolled-back test, say)
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [old.pk])
    new = fake_provider.create_credential(name="shop")
    assert get_client("shop").credential.pk == new.pk


def test_a_settings_change_drops_the_cached_clients(credential, apiauth):
    before = get_client("shop")
    apiauth(MAX_RETRIES=0)
    assert get_client("shop") is not before
