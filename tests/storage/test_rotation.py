"""Key rotation: counts, plaintext, undecryptable rows, interruption and re-run."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_apiauth import crypto, rotation
from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS, raw_column, write_raw_column

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 1000


def make_rows(count):
    ApiCredential.objects.bulk_create(
        ApiCredential(
            name=f"merchant-{i:04d}",
            api_key=f"key-{i:04d}-abcdef",
            api_secret=f"secret-{i:04d}",
            signature_secret=f"sig-{i:04d}" if i % 2 else "",
        )
        for i in range(count)
    )


def key_ids_in_use():
    ids = set()
    for column in ["api_key", "api_secret", "dashboard_password", "signature_secret"]:
        for cred in ApiCredential.objects.all():
            stored = raw_column(cred.pk, column)
            if stored:
                ids.add(stored.split(":")[1])
    return ids


def add_primary_key(settings):
    old = settings.APIAUTH["ENCRYPTION_KEYS"]
    new = crypto.generate_key()
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [new, *old]}
    return crypto.get_key_ring().primary.key_id


def assert_all_values_intact(count):
    for i, cred in enumerate(ApiCredential.objects.order_by("name")):
        assert cred.api_key == f"key-{i:04d}-abcdef"
        assert cred.api_secret == f"secret-{i:04d}"
        assert cred.signature_secret == (f"sig-{i:04d}" if i % 2 else "")
    assert ApiCredential.objects.count() == count


def test_dry_run_counts_per_key_and_changes_nothing(settings):
    make_rows(10)
    old_id = crypto.get_key_ring().primary.key_id
    add_primary_key(settings)
    before = raw_column(ApiCredential.objects.first().pk, "api_secret")
    report = rotation.rotate_keys(dry_run=True)
    assert report.by_key == {old_id: 25}  # 10 keys + 10 secrets + 5 signature secrets
    assert report.rotated == 25 and report.rows_updated == 0
    assert raw_column(ApiCredential.objects.first().pk, "api_secret") == before


def test_a_dry_run_decrypts_but_encrypts_nothing(settings, monkeypatch):
    from cryptography.fernet import Fernet

    make_rows(10)
    add_primary_key(settings)
    encrypted = []
    original = Fernet.encrypt_at_time
    monkeypatch.setattr(
        Fernet, "encrypt_at_time", lambda *args: encrypted.append(1) or original(*args)
    )

    report = rotation.rotate_keys(dry_run=True)

    assert report.rotated == 25 and report.ok
    assert encrypted == []


@pytest.mark.slow  # 1,000 rows
def test_thousand_rows_interrupted_then_resumed(settings, monkeypatch):
    make_rows(ROWS)
    new_id = add_primary_key(settings)

    real_batch = rotation._rotate_batch
    calls = {"n": 0}

    def crash_on_third_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("operator pressed ^C")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(rotation, "_rotate_batch", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        rotation.rotate_keys(batch_size=200)
    assert len(key_ids_in_use()) == 2  # half-way: both keys in use
    assert_all_values_intact(ROWS)

    monkeypatch.setattr(rotation, "_rotate_batch", real_batch)
    report = rotation.rotate_keys(batch_size=200)
    assert report.ok
    assert report.by_key[new_id] == 2 * 400 + 200  # the two finished batches
    assert report.rotated == 2 * 600 + 300
    assert key_ids_in_use() == {new_id}
    assert_all_values_intact(ROWS)

    again = rotation.rotate_keys(batch_size=200)
    assert again.rotated == 0 and again.rows_updated == 0


def test_plaintext_legacy_values_are_encrypted(settings):
    cred = ApiCredential.objects.create(name="legacy", **SECRETS)
    write_raw_column(cred.pk, "api_secret", "plain-legacy-secret")
    report = rotation.rotate_keys()
    assert report.by_key[rotation.PLAINTEXT] == 1 and report.encrypted_plaintext == 1
    assert raw_column(cred.pk, "api_secret").startswith("v1:")
    assert ApiCredential.objects.get(pk=cred.pk).api_secret == "plain-legacy-secret"


def test_undecryptable_values_are_listed_and_left_untouched(settings):
    make_rows(5)
    good, bad = ApiCredential.objects.order_by("pk")[:2]
    truncated = raw_column(bad.pk, "api_secret")[:-10]
    write_raw_column(bad.pk, "api_secret", truncated)
    add_primary_key(settings)
    report = rotation.rotate_keys(batch_size=2)
    assert [(u.pk, u.field) for u in report.undecryptable] == [(bad.pk, "api_secret")]
    assert raw_column(bad.pk, "api_secret") == truncated  # nothing lost, nothing invented
    assert ApiCredential.objects.get(pk=bad.pk).api_key == "key-0001-abcdef"  # rest rotated
    assert ApiCredential.objects.get(pk=good.pk).api_secret == "secret-0000"


def test_a_key_removed_from_the_ring_is_reported_not_fatal(settings):
    make_rows(3)
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [crypto.generate_key()]}
    report = rotation.rotate_keys()
    assert len(report.undecryptable) == 3 * 2 + 1
    assert "not in the key ring" in report.undecryptable[0].reason


def test_rotate_command_reports_counts(settings):
    make_rows(4)
    old_id = crypto.get_key_ring().primary.key_id
    new_id = add_primary_key(settings)
    out = StringIO()
    call_command("apiauth_rotate_keys", "--dry-run", stdout=out)
    assert f"{old_id}: 10" in out.getvalue() and "Dry run" in out.getvalue()
    out = StringIO()
    call_command("apiauth_rotate_keys", stdout=out)
    assert "Re-encrypted 10 value(s)" in out.getvalue()
    out = StringIO()
    call_command("apiauth_rotate_keys", stdout=out)
    assert f"{new_id}: 10 (primary)" in out.getvalue()


def test_rotate_command_fails_when_values_are_undecryptable(settings):
    make_rows(1)
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [crypto.generate_key()]}
    err = StringIO()
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("apiauth_rotate_keys", stdout=StringIO(), stderr=err)
    assert "UNDECRYPTABLE django_apiauth.ApiCredential" in err.getvalue()
    assert "secret-0000" not in err.getvalue()


def test_rotate_command_rejects_bad_batch_size():
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("apiauth_rotate_keys", "--batch-size", "0")


def test_rotation_reads_the_secrets_and_what_their_binding_needs_only(settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_rows(3)
    add_primary_key(settings)
    with CaptureQueriesContext(connection) as queries:
        assert rotation.rotate_keys().rows_updated == 3
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "uid" in q["sql"]]
    assert selects
    for sql in selects:
        for column in ("dashboard_username", "last_check_detail", "created_at", "merchant_uid"):
            assert column not in sql
    assert_all_values_intact(3)
