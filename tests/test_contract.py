"""The public contract of DESIGN.md, exercised from the outside, name by name.

Only names DESIGN.md marks as contract are imported here; each test checks
behaviour a user relies on (not just that a name exists).
"""

from __future__ import annotations

import base64
import dataclasses
import inspect
from io import StringIO

import jwt
import pytest
import requests
from cryptography.fernet import Fernet
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from django_apiauth import crypto, exceptions, signing
from django_apiauth.client import ApiClient, CheckResult, get_client
from django_apiauth.conf import api_settings
from django_apiauth.models import ApiCredential
from tests.vectors import HASH_NOTIFICATION, JWT_TOKEN

pytestmark = pytest.mark.django_db

# --------------------------------------------------------------------- settings

CONTRACT_DEFAULTS = {
    "ENVIRONMENTS": {
        "staging": "https://staging.back.ecard.pledg.co",
        "production": "https://back.ecard.pledg.co",
    },
    "DEFAULT_ENVIRONMENT": "staging",
    "TOKEN_PATH": "/api/token",
    "CHECK_PATH": None,
    "CACHE_ALIAS": "default",
    "REFRESH_MARGIN": 60,
    "EXPIRY_LEEWAY": 10,
    "LOCK_TIMEOUT": 10,
    "TIMEOUT": (3.05, 10),
    "MAX_RETRIES": 2,
    "VERIFY": True,
    "ALLOW_INSECURE_LOOPBACK": False,
}


@pytest.mark.parametrize(("key", "default"), CONTRACT_DEFAULTS.items())
def test_every_setting_has_its_contract_default(settings, key, default):
    settings.APIAUTH = {}
    assert getattr(api_settings, key) == default


def test_settings_are_read_at_call_time():
    with override_settings(APIAUTH={"TOKEN_PATH": "/oauth/token"}):
        assert api_settings.TOKEN_PATH == "/oauth/token"
    assert api_settings.TOKEN_PATH == "/api/token"


def test_encryption_keys_default_to_the_comma_separated_environment_variable(settings, monkeypatch):
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.APIAUTH = {}
    monkeypatch.setenv("APIAUTH_ENCRYPTION_KEYS", f"{first},{second}")
    assert [first, second] == api_settings.ENCRYPTION_KEYS
    crypto.get_key_ring.cache_clear()
    # The first key encrypts: a ring of the second key alone cannot read it.
    token = crypto.encrypt("x")
    settings.APIAUTH = {"ENCRYPTION_KEYS": [second]}
    with pytest.raises(exceptions.DecryptionError):
        crypto.decrypt(token)


def test_encryption_keys_in_settings_win_over_the_environment(settings, monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("APIAUTH_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    settings.APIAUTH = {"ENCRYPTION_KEYS": [key]}
    assert [key] == api_settings.ENCRYPTION_KEYS


def test_without_any_key_one_is_derived_from_secret_key_and_survives_its_rotation(
    settings, monkeypatch
):
    monkeypatch.delenv("APIAUTH_ENCRYPTION_KEYS", raising=False)
    settings.APIAUTH = {}
    settings.SECRET_KEY = "old-secret-key-for-the-contract-test"
    token = crypto.encrypt("survives")
    settings.SECRET_KEY = "new-secret-key-for-the-contract-test"
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key-for-the-contract-test"]
    assert crypto.decrypt(token) == "survives"


# ------------------------------------------------------------------------ model

CONTRACT_FIELDS = (
    "name",
    "environment",
    "base_url",
    "api_key",
    "api_secret",
    "dashboard_username",
    "dashboard_password",
    "signature_secret",
    "merchant_uid",
    "is_active",
    "last_check_at",
    "last_check_ok",
    "last_check_detail",
    "created_at",
    "updated_at",
)
ENCRYPTED_FIELDS = ("api_key", "api_secret", "dashboard_password", "signature_secret")
SECRETS = {
    "api_key": "contract_key_Zq81Lm04Xv",
    "api_secret": "contract_secret_Jh52Wk97Pd",
    "dashboard_password": "contract_dash_Rf36Ty20",
    "signature_secret": "contract_sig_Bn74Gx15Qe_long_enough_for_hs256",
}


def stored(pk: int, column: str) -> str:
    table = connection.ops.quote_name(ApiCredential._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk]
        )
        return cursor.fetchone()[0]


@pytest.fixture
def credential():
    return ApiCredential.objects.create(
        name="shop", dashboard_username="ops@shop.example", merchant_uid="mer_1", **SECRETS
    )


@pytest.mark.parametrize("name", CONTRACT_FIELDS)
def test_the_model_has_every_contract_field(name):
    assert ApiCredential._meta.get_field(name).name == name


def test_name_is_a_unique_slug():
    field = ApiCredential._meta.get_field("name")
    assert field.unique
    assert field.get_internal_type() == "SlugField"


def test_new_credentials_default_to_the_default_environment(settings):
    settings.APIAUTH = {**settings.APIAUTH, "DEFAULT_ENVIRONMENT": "production"}
    credential = ApiCredential.objects.create(name="prod", api_key="k", api_secret="s")
    assert credential.environment == "production"
    assert credential.endpoint == "https://back.ecard.pledg.co"


def test_a_blank_base_url_means_the_environments(credential):
    assert credential.endpoint == "https://staging.back.ecard.pledg.co"
    credential.base_url = "https://merchant-host.example/"
    assert credential.endpoint == "https://merchant-host.example"


@pytest.mark.parametrize("column", ENCRYPTED_FIELDS)
def test_secret_columns_are_stored_encrypted_and_read_back_in_clear(credential, column):
    raw = stored(credential.pk, column)
    assert raw.startswith("v1:")
    assert SECRETS[column] not in raw
    assert getattr(ApiCredential.objects.get(pk=credential.pk), column) == SECRETS[column]


def test_none_and_empty_stay_as_they_are():
    credential = ApiCredential.objects.create(name="bare", api_key="k", api_secret="s")
    assert stored(credential.pk, "dashboard_password") == ""
    assert stored(credential.pk, "signature_secret") == ""


def test_a_value_no_key_decrypts_raises_decryption_error_naming_the_row(credential, settings):
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    reloaded = ApiCredential.objects.get(pk=credential.pk)  # loading never fails
    with pytest.raises(exceptions.DecryptionError) as caught:
        reloaded.api_secret
    assert "api_secret" in str(caught.value)
    assert f"pk={credential.pk}" in str(caught.value)


def test_str_and_repr_never_show_a_secret(credential):
    text = str(credential) + repr(credential)
    assert "shop" in text
    for value in SECRETS.values():
        assert value not in text


def test_the_test_connectivity_permission_exists():
    assert ("test_connectivity", "Can test connectivity of API credentials") in [
        (codename, str(name)) for codename, name in ApiCredential._meta.permissions
    ]
    assert Permission.objects.filter(
        content_type__app_label="django_apiauth", codename="test_connectivity"
    ).exists()


# ----------------------------------------------------------------------- client


def test_get_client_returns_a_client_of_the_active_credential(fake_provider):
    fake_provider.create_credential(name="shop")
    client = get_client("shop")
    assert isinstance(client, ApiClient)
    assert client.credential.name == "shop"


@pytest.mark.parametrize("name", ["missing", "inactive"])
def test_get_client_refuses_unknown_and_inactive_names(fake_provider, name):
    fake_provider.create_credential(name="inactive", is_active=False)
    with pytest.raises(exceptions.CredentialNotFound, match=name):
        get_client(name)


def test_api_client_is_built_from_a_credential(fake_provider):
    credential = fake_provider.create_credential(name="shop")
    assert ApiClient(credential).credential == credential


def test_request_signature_is_the_contracts():
    params = inspect.signature(ApiClient.request).parameters
    assert list(params)[:3] == ["self", "method", "path"]
    assert params["auth"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["auth"].default == "token"
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def last_authorization(fake_provider) -> str | None:
    return fake_provider.mock.calls[-1].request.headers.get("Authorization")


def test_token_auth_sends_a_bearer_token_from_the_token_endpoint(fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/orders", json={"orders": []})
    client = get_client(fake_provider.create_credential(name="shop").name)
    response = client.request("GET", "/api/orders", params={"page": 2})
    assert isinstance(response, requests.Response)
    assert response.json() == {"orders": []}
    assert last_authorization(fake_provider) == f"Bearer {client.access_token()}"
    assert fake_provider.mock.calls[-1].request.url.endswith("/api/orders?page=2")


def test_basic_auth_sends_the_dashboard_login(fake_provider):
    fake_provider.add_basic_endpoint("GET", "/api/dashboard", json={"ok": True})
    client = get_client(fake_provider.create_credential(name="shop").name)
    assert client.request("GET", "/api/dashboard", auth="basic").status_code == 200
    login = f"{fake_provider.dashboard_username}:{fake_provider.dashboard_password}"
    assert last_authorization(fake_provider) == "Basic " + base64.b64encode(login.encode()).decode()
    assert fake_provider.token_requests == 0


def test_basic_auth_without_a_dashboard_login_is_a_configuration_error(fake_provider):
    client = ApiClient(fake_provider.create_credential(name="shop", dashboard_password=""))
    with pytest.raises(exceptions.ConfigurationError, match="shop"):
        client.get("/api/dashboard", auth="basic")
    assert len(fake_provider.mock.calls) == 0


def test_none_auth_sends_no_credentials(fake_provider):
    fake_provider.mock.add("GET", f"{fake_provider.base_url}/api/status", json={})
    client = get_client(fake_provider.create_credential(name="shop").name)
    assert client.request("GET", "/api/status", auth="none").status_code == 200
    assert last_authorization(fake_provider) is None
    assert fake_provider.token_requests == 0


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_shortcuts_send_their_method(fake_provider, method):
    fake_provider.add_bearer_endpoint(method.upper(), "/api/thing", json={"m": method})
    client = get_client(fake_provider.create_credential(name="shop").name)
    response = getattr(client, method)("/api/thing")
    assert response.json() == {"m": method}
    assert fake_provider.mock.calls[-1].request.method == method.upper()


def test_access_token_is_cached_and_invalidate_token_drops_it(fake_provider):
    client = get_client(fake_provider.create_credential(name="shop").name)
    first = client.access_token()
    assert isinstance(first, str) and first
    assert client.access_token() == first
    assert get_client("shop").access_token() == first  # shared, not per client
    assert fake_provider.token_requests == 1
    client.invalidate_token()
    second = client.access_token()
    assert second != first
    assert fake_provider.token_requests == 2


def test_a_401_drops_the_token_fetches_a_new_one_and_replays_once(fake_provider):
    fake_provider.add_bearer_endpoint("POST", "/api/orders", json={"created": True})
    client = get_client(fake_provider.create_credential(name="shop").name)
    client.access_token()
    fake_provider.revoke_tokens()
    response = client.post("/api/orders", json={"reference": "A-1"})
    assert response.status_code == 200
    assert fake_provider.bearer_rejected == 1
    assert fake_provider.token_requests == 2
    assert fake_provider.mock.calls[-1].request.body == b'{"reference": "A-1"}'


def test_client_sign_makes_an_hs256_jwt_with_the_signature_secret(fake_provider):
    credential = fake_provider.create_credential(
        name="shop", signature_secret=SECRETS["signature_secret"]
    )
    token = ApiClient(credential).sign({"data": {"amountCents": 1500}}, expires_in=600)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRETS["signature_secret"], algorithms=["HS256"])
    assert claims["data"] == {"amountCents": 1500}
    assert claims["exp"] - claims["iat"] == 600


def test_client_sign_without_a_signature_secret_is_a_configuration_error(fake_provider):
    client = ApiClient(fake_provider.create_credential(name="shop"))
    with pytest.raises(exceptions.ConfigurationError, match="shop"):
        client.sign({"data": {}})


def test_check_result_has_the_contract_fields():
    assert [f.name for f in dataclasses.fields(CheckResult)] == [
        "ok",
        "method",
        "status_code",
        "latency_ms",
        "detail",
    ]


def test_check_reports_a_fresh_token(fake_provider):
    client = get_client(fake_provider.create_credential(name="shop").name)
    client.access_token()
    result = client.check()
    assert isinstance(result, CheckResult)
    assert result.ok is True
    assert result.method == "token"
    assert result.status_code == 200
    assert result.latency_ms >= 0
    assert fake_provider.token_requests == 2  # bypassed the cached token


def test_check_gets_check_path_when_set(fake_provider, settings):
    settings.APIAUTH = {**settings.APIAUTH, "CHECK_PATH": "/api/merchant"}
    fake_provider.add_bearer_endpoint("GET", "/api/merchant", status=204)
    result = get_client(fake_provider.create_credential(name="shop").name).check()
    assert (result.ok, result.method, result.status_code) == (True, "token+GET /api/merchant", 204)


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        ({"status": 401, "body": '{"error": "invalid_client"}'}, 401),
        ({"status": 503, "body": "<html>down</html>", "content_type": "text/html"}, 503),
        ({"exception": requests.ConnectTimeout()}, None),
    ],
)
def test_check_never_raises_for_provider_errors(fake_provider, failure, status):
    fake_provider.fail_token_requests(5, **failure)
    result = get_client(fake_provider.create_credential(name="shop").name).check()
    assert result.ok is False
    assert result.status_code == status
    assert "shop" in result.detail
    assert fake_provider.api_secret not in result.detail


# ---------------------------------------------------------------------- signing


def test_signing_sign_round_trips_through_decode_notification():
    # A flat payload, as the provider's transfer notifications are (issue 11).
    token = signing.sign(
        {"reference": "r-1"}, "a-shared-secret-of-at-least-32-bytes", expires_in=60
    )
    assert (
        signing.decode_notification(token, "a-shared-secret-of-at-least-32-bytes")["reference"]
        == "r-1"
    )
    with pytest.raises(exceptions.SignatureError):
        signing.decode_notification(token, "another-secret-of-at-least-32-bytes")


def test_decode_notification_refuses_the_merchants_own_signed_requests():
    secret = "a-shared-secret-of-at-least-32-bytes"
    with pytest.raises(exceptions.SignatureError):
        signing.decode_notification(signing.sign({"data": {"reference": "r-1"}}, secret), secret)


def test_verify_notification_accepts_the_providers_vector_and_rejects_a_change():
    assert signing.verify_notification(HASH_NOTIFICATION, "SECRET") is True
    assert signing.verify_notification({**HASH_NOTIFICATION, "status": "failed"}, "SECRET") is False
    assert signing.verify_notification(HASH_NOTIFICATION, "OTHER") is False


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_decode_notification_decodes_the_providers_vector():
    assert signing.decode_notification(JWT_TOKEN, "your-256-bit-secret") == {
        "reference": "purchase_reference",
        "created": "2020-09-17 15:00:02.052177",
        "transfer_order_item_uid": "tri_fasdkfiasfsd234nfs7f5d",
        "amount_cents": 10000,
    }
    with pytest.raises(exceptions.SignatureError) as caught:
        signing.decode_notification(JWT_TOKEN, "wrong-secret")
    assert JWT_TOKEN not in str(caught.value)


def test_sign_accepts_expires_in_as_a_keyword_only_argument():
    params = inspect.signature(signing.sign).parameters
    assert params["expires_in"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["expires_in"].default is None


# ----------------------------------------------------------------------- crypto


def test_generate_key_makes_a_usable_fernet_key_each_time():
    key = crypto.generate_key()
    assert isinstance(key, str)
    Fernet(key.encode())  # raises if it is not a Fernet key
    assert crypto.generate_key() != key


def test_encrypt_and_decrypt_round_trip_with_a_versioned_prefix():
    token = crypto.encrypt("s3cr3t")
    assert token.startswith("v1:") and "s3cr3t" not in token
    assert crypto.decrypt(token) == "s3cr3t"


def test_decrypt_of_garbage_is_a_decryption_error():
    with pytest.raises(exceptions.DecryptionError):
        crypto.decrypt("v1:00000000:not-a-fernet-token")


def test_a_malformed_key_is_a_configuration_error_that_does_not_echo_it(settings):
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": ["my-malformed-key-value"]}
    with pytest.raises(exceptions.ConfigurationError) as caught:
        crypto.encrypt("x")
    assert "my-malformed-key-value" not in str(caught.value)


# ------------------------------------------------------------------- exceptions


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (exceptions.ConfigurationError, exceptions.ApiAuthError),
        (exceptions.ConfigurationError, ImproperlyConfigured),
        (exceptions.CredentialNotFound, exceptions.ApiAuthError),
        (exceptions.InsecureTransportError, exceptions.ApiAuthError),
        (exceptions.DecryptionError, exceptions.ApiAuthError),
        (exceptions.SignatureError, exceptions.ApiAuthError),
        (exceptions.TokenError, exceptions.ApiAuthError),
        (exceptions.InvalidCredentialsError, exceptions.TokenError),
        (exceptions.TokenEndpointError, exceptions.TokenError),
        (exceptions.MalformedTokenResponseError, exceptions.TokenError),
        (exceptions.ApiAuthError, Exception),
    ],
)
def test_exception_hierarchy(child, parent):
    assert issubclass(child, parent)


def test_invalid_credentials_error_names_the_credential_and_the_oauth_error(fake_provider):
    client = ApiClient(
        fake_provider.create_credential(name="shop", api_secret="wrong-secret-value")
    )
    with pytest.raises(exceptions.InvalidCredentialsError) as caught:
        client.access_token()
    assert caught.value.credential == "shop"
    assert caught.value.status_code == 401
    assert caught.value.error == "invalid_client"
    assert "shop" in str(caught.value)
    assert "wrong-secret-value" not in str(caught.value)


def test_token_endpoint_error_after_retries(fake_provider):
    fake_provider.fail_token_requests(10, status=500, body="")
    with pytest.raises(exceptions.TokenEndpointError) as caught:
        ApiClient(fake_provider.create_credential(name="shop")).access_token()
    assert caught.value.status_code == 500
    assert "shop" in str(caught.value)


def test_malformed_token_response_error(fake_provider):
    fake_provider.fail_token_requests(1, status=200, body='{"token_type": "Bearer"}')
    with pytest.raises(exceptions.MalformedTokenResponseError, match="access_token"):
        ApiClient(fake_provider.create_credential(name="shop")).access_token()


def test_plain_http_is_an_insecure_transport_error():
    credential = ApiCredential(
        name="shop", base_url="http://provider.example", api_key="k", api_secret="s"
    )
    with pytest.raises(exceptions.InsecureTransportError):
        ApiClient(credential).get("/api/x", auth="none")


# --------------------------------------------------------------------- commands


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_apiauth_check_named_credentials_stores_the_result(fake_provider):
    fake_provider.create_credential(name="shop")
    out, _ = run("apiauth_check", "shop")
    assert "shop" in out and "OK" in out
    credential = ApiCredential.objects.get(name="shop")
    assert credential.last_check_ok is True
    assert credential.last_check_at is not None


def test_apiauth_check_all_exits_1_when_a_check_fails(fake_provider):
    fake_provider.create_credential(name="good")
    fake_provider.create_credential(name="bad", api_secret="not-the-secret")
    fake_provider.create_credential(name="off", is_active=False, api_secret="not-the-secret")
    with pytest.raises(CommandError) as caught:
        run("apiauth_check", "--all")
    assert caught.value.returncode == 1
    assert "bad" in str(caught.value) and "off" not in str(caught.value)
    assert ApiCredential.objects.get(name="off").last_check_at is None


def test_apiauth_check_unknown_name_is_an_error(fake_provider):
    with pytest.raises(CommandError, match="nope"):
        run("apiauth_check", "nope")


def test_apiauth_rotate_keys_dry_run_counts_and_changes_nothing(credential, settings):
    old = settings.APIAUTH["ENCRYPTION_KEYS"][0]
    before = stored(credential.pk, "api_secret")
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [crypto.generate_key(), old]}
    out, _ = run("apiauth_rotate_keys", "--dry-run")
    assert "Would re-encrypt 4 value(s)" in out
    assert stored(credential.pk, "api_secret") == before
    run("apiauth_rotate_keys")
    assert stored(credential.pk, "api_secret") != before
    settings.APIAUTH = {
        **settings.APIAUTH,
        "ENCRYPTION_KEYS": settings.APIAUTH["ENCRYPTION_KEYS"][:1],
    }
    assert ApiCredential.objects.get(pk=credential.pk).api_secret == SECRETS["api_secret"]


def test_apiauth_generate_key_prints_a_fernet_key():
    out, _ = run("apiauth_generate_key")
    Fernet(out.strip().encode())


def test_apiauth_credential_set_list_delete(monkeypatch):
    monkeypatch.setenv("APIAUTH_API_KEY", "cli_key_Wd93Lr27Ks")
    monkeypatch.setenv("APIAUTH_API_SECRET", "cli_secret_Hm48Pz")
    out, _ = run(
        "apiauth_credential", "set", "cli-shop", "--environment", "production", "--no-input"
    )
    assert "cli_key_Wd93Lr27Ks" not in out
    credential = ApiCredential.objects.get(name="cli-shop")
    assert (credential.api_key, credential.api_secret) == (
        "cli_key_Wd93Lr27Ks",
        "cli_secret_Hm48Pz",
    )
    assert credential.environment == "production"

    out, _ = run("apiauth_credential", "list")
    assert "cli-shop" in out and "••••27Ks" in out
    assert "cli_key_Wd93Lr27Ks" not in out and "cli_secret_Hm48Pz" not in out

    run("apiauth_credential", "delete", "cli-shop")
    assert not ApiCredential.objects.filter(name="cli-shop").exists()


def test_apiauth_credential_refuses_secrets_from_argv():
    with pytest.raises(CommandError, match="--api-secret"):
        run("apiauth_credential", "set", "x", "--api-secret", "from-argv", "--no-input")
    assert not ApiCredential.objects.filter(name="x").exists()


def test_apiauth_clear_tokens_named_and_all(fake_provider):
    shop = get_client(fake_provider.create_credential(name="shop").name)
    other = get_client(fake_provider.create_credential(name="other").name)
    shop_token, other_token = shop.access_token(), other.access_token()

    out, _ = run("apiauth_clear_tokens", "shop")
    assert out.strip() == "shop: token cleared"
    assert shop.access_token() != shop_token
    assert other.access_token() == other_token

    out, _ = run("apiauth_clear_tokens")
    assert "other: token cleared" in out and "shop: token cleared" in out
    assert other.access_token() != other_token
