"""apiauth_generate_key and apiauth_credential."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from django_apiauth.models import ApiCredential
from tests.helpers import SECRETS

pytestmark = pytest.mark.django_db


def run(*args, **kwargs):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue() + err.getvalue()


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv("APIAUTH_API_KEY", SECRETS["api_key"])
    monkeypatch.setenv("APIAUTH_API_SECRET", SECRETS["api_secret"])
    monkeypatch.setenv("APIAUTH_SIGNATURE_SECRET", SECRETS["signature_secret"])


def test_generate_key_prints_a_fernet_key():
    key = run("apiauth_generate_key").strip()
    Fernet(key)


def test_set_creates_from_environment_without_echoing_secrets(secret_env):
    output = run("apiauth_credential", "set", "shop", "--environment", "production", "--no-input")
    cred = ApiCredential.objects.get(name="shop")
    assert (cred.api_key, cred.api_secret) == (SECRETS["api_key"], SECRETS["api_secret"])
    assert cred.signature_secret == SECRETS["signature_secret"]
    assert cred.environment == "production"
    assert "Created credential 'shop'" in output
    for value in SECRETS.values():
        assert value not in output


def test_set_reads_secrets_from_named_variables(monkeypatch):
    monkeypatch.setenv("SHOP_KEY", "k" * 16)
    monkeypatch.setenv("SHOP_SECRET", "s" * 16)
    run(
        "apiauth_credential", "set", "shop", "--no-input",
        "--api-key-env", "SHOP_KEY", "--api-secret-env", "SHOP_SECRET",
    )  # fmt: skip
    assert ApiCredential.objects.get(name="shop").api_secret == "s" * 16


def test_set_updates_without_touching_secrets_not_given(secret_env, monkeypatch):
    run("apiauth_credential", "set", "shop", "--no-input")
    for var in ["APIAUTH_API_KEY", "APIAUTH_API_SECRET", "APIAUTH_SIGNATURE_SECRET"]:
        monkeypatch.delenv(var)
    run("apiauth_credential", "set", "shop", "--merchant-uid", "mer_1", "--inactive", "--no-input")
    cred = ApiCredential.objects.get(name="shop")
    assert cred.api_secret == SECRETS["api_secret"]
    assert (cred.merchant_uid, cred.is_active) == ("mer_1", False)


@pytest.mark.parametrize("flag", ["--api-secret", "--api-key", "--dashboard-password"])
def test_secrets_on_argv_are_refused(flag):
    with pytest.raises(CommandError, match="refusing .*command line") as err:
        run("apiauth_credential", "set", "shop", flag, "hunter2-value")
    assert "hunter2-value" not in str(err.value)
    assert not ApiCredential.objects.exists()


def test_missing_required_secret_names_the_variable(monkeypatch):
    monkeypatch.delenv("APIAUTH_API_KEY", raising=False)
    with pytest.raises(CommandError, match=r"api_key is required .*\$APIAUTH_API_KEY"):
        run("apiauth_credential", "set", "shop", "--no-input")


def test_interactive_prompt_is_used_when_variables_are_missing(monkeypatch):
    for var in ["APIAUTH_API_KEY", "APIAUTH_API_SECRET"]:
        monkeypatch.delenv(var, raising=False)
    answers = iter(["typed-key-1234", "typed-secret", "", ""])
    prompts = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda p: prompts.append(p) or next(answers))
    run("apiauth_credential", "set", "shop")
    assert ApiCredential.objects.get(name="shop").api_secret == "typed-secret"
    assert prompts[0] == "api key: "


def test_invalid_values_are_reported_per_field(secret_env):
    with pytest.raises(CommandError, match="base_url: .*plain http://"):
        run("apiauth_credential", "set", "shop", "--base-url", "http://x.example", "--no-input")
    assert not ApiCredential.objects.exists()


def test_list_masks_keys(staging_credential):
    output = run("apiauth_credential", "list")
    assert "shop-fr\tstaging" in output
    assert "••••" + SECRETS["api_key"][-4:] in output
    assert SECRETS["api_key"] not in output


def test_list_survives_an_undecryptable_row(staging_credential, settings, new_key):
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    assert "(undecryptable)" in run("apiauth_credential", "list")


def test_delete(staging_credential):
    assert "Deleted credential 'shop-fr'" in run("apiauth_credential", "delete", "shop-fr")
    assert not ApiCredential.objects.exists()
    with pytest.raises(CommandError, match="no credential named 'shop-fr'"):
        run("apiauth_credential", "delete", "shop-fr")


def test_set_repairs_a_credential_whose_secrets_no_longer_decrypt(
    staging_credential, settings, new_key, monkeypatch
):
    from tests.helpers import raw_column

    stored_signature = raw_column(staging_credential.pk, "signature_secret")
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    for var in ["APIAUTH_API_KEY", "APIAUTH_API_SECRET", "APIAUTH_SIGNATURE_SECRET"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("APIAUTH_API_SECRET", "fresh-secret-value")
    output = run("apiauth_credential", "set", "shop-fr", "--merchant-uid", "mer_9", "--no-input")
    assert "Updated credential 'shop-fr' (API key undecryptable)" in output
    assert "cannot be decrypted" in output
    cred = ApiCredential.objects.get(name="shop-fr")
    assert (cred.api_secret, cred.merchant_uid) == ("fresh-secret-value", "mer_9")
    assert (
        raw_column(staging_credential.pk, "signature_secret") == stored_signature
    )  # kept as stored


def test_rotate_keys_dry_run_says_how_many_values_it_would_re_encrypt(
    staging_credential, settings, new_key
):
    settings.APIAUTH = {
        **settings.APIAUTH,
        "ENCRYPTION_KEYS": [new_key, *settings.APIAUTH["ENCRYPTION_KEYS"]],
    }
    assert "Would re-encrypt 4 value(s)" in run("apiauth_rotate_keys", "--dry-run")


def test_list_shows_the_endpoint_actually_used(db, apiauth):
    apiauth(ALLOWED_HOSTS=["api.shop.example"])
    ApiCredential.objects.create(
        name="custom",
        environment="staging",
        base_url="https://api.shop.example",
        api_key="key_0123456789",
        api_secret="s",
    )
    line = next(x for x in run("apiauth_credential", "list").splitlines() if x.startswith("custom"))
    assert line.split("\t")[1] == "custom (api.shop.example)"
