"""``apiauth_check`` and ``apiauth_clear_tokens``."""

from __future__ import annotations

import logging
import re
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, ManagementUtility, call_command

from django_apiauth.client import ApiClient, get_client
from django_apiauth.connectivity import check_credentials
from django_apiauth.crypto import generate_key
from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS

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
def shops(db, staging_provider):
    """shop-fr and shop-old hold the provider's secrets, shop-de a wrong one."""
    return [
        ApiCredential.objects.create(
            name=name, api_key=SECRETS["api_key"], api_secret=secret, **extra
        )
        for name, secret, extra in [
            ("shop-de", "wrong-secret", {}),
            ("shop-fr", SECRETS["api_secret"], {}),
            ("shop-old", SECRETS["api_secret"], {"is_active": False}),
        ]
    ]


def test_check_prints_one_line_per_named_credential(shops):
    output = run("apiauth_check", "shop-fr", "shop-old")
    assert [line.split()[:2] for line in output.splitlines()] == [
        ["OK", "shop-fr"],
        ["OK", "shop-old"],
    ]
    assert "OK in " in output


def test_check_all_checks_every_active_credential(shops, staging_provider):
    output, _ = run_failing("apiauth_check", "--all")
    assert staging_provider.token_requests == 2
    assert "shop-old" not in output


def test_check_all_leaves_inactive_credentials_unchecked(shops):
    run_failing("apiauth_check", "--all")
    assert ApiCredential.objects.get(name="shop-old").last_check_at is None


def test_check_stores_the_results(shops):
    run("apiauth_check", "shop-fr")
    assert ApiCredential.objects.get(name="shop-fr").last_check_ok is True


def test_check_exits_with_status_1_when_any_check_fails(shops):
    output, error = run_failing("apiauth_check", "--all")
    assert error.returncode == 1
    assert "1 of 2 checks failed: shop-de" in str(error)
    assert re.search(r"^FAILED shop-de .*invalid_client", output, re.M)
    assert re.search(r"^OK     shop-fr  OK in \d+ ms", output, re.M)


def test_check_exit_status_from_the_command_line_is_1(shops, capsys):
    with pytest.raises(SystemExit) as info:
        ManagementUtility(["manage.py", "apiauth_check", "shop-de"]).execute()
    assert info.value.code == 1
    captured = capsys.readouterr()
    assert "FAILED shop-de" in captured.out
    assert "1 of 1 checks failed" in captured.err


def test_check_output_contains_no_secret(shops, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SystemExit):
        ManagementUtility(["manage.py", "apiauth_check", "--all"]).execute()
    captured = capsys.readouterr()
    for text in (captured.out, captured.err, caplog.text):
        assert SECRETS["api_key"] not in text
        assert SECRETS["api_secret"] not in text
        assert "wrong-secret" not in text


def test_check_refuses_unknown_names(shops, staging_provider):
    _, error = run_failing("apiauth_check", "shop-fr", "shop-xx")
    assert "'shop-xx'" in str(error)
    assert staging_provider.token_requests == 0


def test_check_needs_names_or_all(shops):
    _, error = run_failing("apiauth_check")
    assert "--all" in str(error)


def test_check_refuses_names_with_all(shops, staging_provider):
    run_failing("apiauth_check", "shop-fr", "--all")
    assert staging_provider.token_requests == 0


def test_check_all_with_no_active_credential_fails(db):
    _, error = run_failing("apiauth_check", "--all")
    assert "no active credential" in str(error)


def test_check_reports_an_undecryptable_credential_as_failed(shops, staging_provider, settings):
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [generate_key()]}
    output, error = run_failing("apiauth_check", "shop-fr")
    assert "cannot be decrypted" in output
    assert staging_provider.token_requests == 0


def test_clear_tokens_makes_the_next_call_fetch_a_new_token(shops, staging_provider):
    client = get_client("shop-fr")
    client.access_token()
    client.access_token()
    assert staging_provider.tokens_issued == 1
    run("apiauth_clear_tokens", "shop-fr")
    get_client("shop-fr").access_token()
    assert staging_provider.tokens_issued == 2


def test_clear_tokens_reports_an_undecryptable_credential(shops, settings):
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [generate_key()]}
    _, error = run_failing("apiauth_clear_tokens", "shop-fr")
    assert error.returncode == 1
    assert "shop-fr" in str(error)


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


def test_check_timeout_option_is_passed_to_the_checks(shops):
    with mock.patch(
        "django_apiauth.management.commands.apiauth_check.check_credentials",
        wraps=check_credentials,
    ) as spy:
        run("apiauth_check", "shop-fr", "--timeout", "5")
    assert spy.call_args.kwargs["timeout"] == 5.0


def test_check_refuses_a_timeout_that_is_not_positive(shops, staging_provider):
    _, error = run_failing("apiauth_check", "shop-fr", "--timeout", "0")
    assert "--timeout" in str(error)
    assert staging_provider.token_requests == 0
