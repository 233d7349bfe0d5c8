"""``apiauth_check`` and ``apiauth_clear_tokens``."""

from __future__ import annotations

from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from django_apiauth.client import ApiClient
from django_apiauth.crypto import generate_key
from django_apiauth.models import ApiCredential

pytestmark = pytest.mark.django_db


def run(command, *args):
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err, no_color=True)
    return out.getvalue()


def run_failing(command, *args):
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command(command, *args, stdout=out, stderr=StringIO(), no_color=True)
    return out.getvalue(), info.value


@pytest.fixture
def shops(db):
    return [
        ApiCredential.objects.create(name=name, api_key=f"{name}_key", api_secret="s", **extra)
        for name, extra in [("shop-de", {}), ("shop-fr", {}), ("shop-old", {"is_active": False})]
    ]


def test_check_prints_one_line_per_named_credential(shops, fake_checks):
    output = run("apiauth_check", "shop-fr", "shop-de")
    assert output.splitlines() == [
        "OK     shop-fr  OK in 42 ms (token, HTTP 200)",
        "OK     shop-de  OK in 42 ms (token, HTTP 200)",
    ]


def test_check_all_checks_every_active_credential(shops, fake_checks):
    run("apiauth_check", "--all")
    assert sorted(c.name for c in fake_checks.checked) == ["shop-de", "shop-fr"]


def test_check_stores_the_results(shops, fake_checks):
    run("apiauth_check", "shop-fr")
    assert ApiCredential.objects.get(name="shop-fr").last_check_ok is True


def test_check_exits_with_status_1_when_any_check_fails(shops, fake_checks):
    fake_checks.failing["shop-de"] = "invalid_client"
    output, error = run_failing("apiauth_check", "--all")
    assert error.returncode == 1
    assert "1 of 2 checks failed: shop-de" in str(error)
    assert "FAILED shop-de  failed: invalid_client (token, HTTP 401, 12 ms)" in output
    assert "OK     shop-fr" in output


def test_check_exit_status_from_the_command_line_is_1(shops, fake_checks, capsys):
    from django.core.management import ManagementUtility

    fake_checks.failing["shop-fr"] = "invalid_client"
    with pytest.raises(SystemExit) as info:
        ManagementUtility(["manage.py", "apiauth_check", "shop-fr"]).execute()
    assert info.value.code == 1
    assert "FAILED shop-fr" in capsys.readouterr().out


def test_check_refuses_unknown_names(shops, fake_checks):
    _, error = run_failing("apiauth_check", "shop-fr", "shop-xx")
    assert "'shop-xx'" in str(error)
    assert fake_checks.checked == []


def test_check_needs_names_or_all(shops, fake_checks):
    _, error = run_failing("apiauth_check")
    assert "--all" in str(error)


def test_check_refuses_names_with_all(shops, fake_checks):
    run_failing("apiauth_check", "shop-fr", "--all")
    assert fake_checks.checked == []


def test_check_all_with_no_active_credential_fails(db, fake_checks):
    _, error = run_failing("apiauth_check", "--all")
    assert "no active credential" in str(error)


def test_check_reports_an_undecryptable_credential_as_failed(shops, fake_checks, settings):
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [generate_key()]}
    output, error = run_failing("apiauth_check", "shop-fr")
    assert "cannot be decrypted" in output
    assert fake_checks.checked == []


@pytest.fixture
def invalidated():
    calls = []
    with mock.patch.object(
        ApiClient,
        "invalidate_token",
        autospec=True,
        side_effect=lambda c: calls.append(c.credential.name),
    ):
        yield calls


def test_clear_tokens_of_named_credentials(shops, invalidated):
    output = run("apiauth_clear_tokens", "shop-fr")
    assert invalidated == ["shop-fr"]
    assert output.splitlines() == ["shop-fr: token cleared"]


def test_clear_tokens_without_names_clears_every_credential(shops, invalidated):
    run("apiauth_clear_tokens")
    assert sorted(invalidated) == ["shop-de", "shop-fr", "shop-old"]


def test_clear_tokens_refuses_unknown_names(shops, invalidated):
    _, error = run_failing("apiauth_clear_tokens", "shop-xx")
    assert "'shop-xx'" in str(error)
    assert invalidated == []
