"""The public surface of DESIGN.md, name by name: what users import, call and configure.

Names, signatures, settings keys and defaults, model fields, the exception
hierarchy, the commands and their options, and the contract additions of
issues 7-12. Behaviour lives in the unit tests of each area (tests/tokens,
tests/storage, tests/admin, tests/signing, tests/notifications, tests/testkit).
"""

from __future__ import annotations

import dataclasses
import inspect
from importlib import metadata
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import load_command_class
from django.dispatch import Signal
from django.urls import get_resolver

from django_apiauth import crypto, exceptions, models, signing
from django_apiauth.client import ApiClient, CheckResult, get_client
from django_apiauth.conf import api_settings
from django_apiauth.fields import EncryptedTextField
from django_apiauth.models import ApiCredential

POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY

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
    # None: the hosts of ENVIRONMENTS (issue 7).
    "ALLOWED_HOSTS": None,
}


@pytest.mark.parametrize(("key", "default"), CONTRACT_DEFAULTS.items())
def test_every_setting_has_its_contract_default(settings, key, default):
    settings.APIAUTH = {}
    assert getattr(api_settings, key) == default


def test_encryption_keys_default_to_none_configured(settings, monkeypatch):
    monkeypatch.delenv("APIAUTH_ENCRYPTION_KEYS", raising=False)
    settings.APIAUTH = {}
    assert api_settings.ENCRYPTION_KEYS == []


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


@pytest.mark.parametrize("name", CONTRACT_FIELDS)
def test_the_model_has_every_contract_field(name):
    assert ApiCredential._meta.get_field(name).name == name


@pytest.mark.parametrize("name", ENCRYPTED_FIELDS)
def test_the_secret_fields_are_encrypted_fields(name):
    assert isinstance(ApiCredential._meta.get_field(name), EncryptedTextField)


def test_name_is_a_unique_slug():
    field = ApiCredential._meta.get_field("name")
    assert field.unique
    assert field.get_internal_type() == "SlugField"


def test_the_test_connectivity_permission_is_declared():
    assert "test_connectivity" in [codename for codename, _ in ApiCredential._meta.permissions]


def test_a_delivery_log_model_stores_the_body_encrypted():
    logs = [
        model
        for model in vars(models).values()
        if inspect.isclass(model)
        and issubclass(model, models.models.Model)
        and model._meta.app_label == "django_apiauth"
        and model is not ApiCredential
        and any(field.name == "body" for field in model._meta.fields)
    ]
    assert logs, "no delivery-log model with a body in django_apiauth.models"
    assert all(isinstance(model._meta.get_field("body"), EncryptedTextField) for model in logs)


# ----------------------------------------------------------------------- client


def parameters(function) -> list[tuple[str, object, object]]:
    """``(name, kind, default)`` of each parameter, ``self`` included."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_get_client_takes_a_name():
    assert [name for name, _, _ in parameters(get_client)] == ["name"]


def test_api_client_is_built_from_a_credential():
    assert [name for name, _, _ in parameters(ApiClient.__init__)][:2] == ["self", "credential"]


def test_request_takes_method_path_keyword_only_auth_and_requests_kwargs():
    params = inspect.signature(ApiClient.request).parameters
    assert list(params)[:3] == ["self", "method", "path"]
    assert params["auth"].kind is KEYWORD_ONLY
    assert params["auth"].default == "token"
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_every_http_shortcut_exists(method):
    params = inspect.signature(getattr(ApiClient, method)).parameters
    assert list(params)[:2] == ["self", "path"]


@pytest.mark.parametrize("method", ["access_token", "invalidate_token", "check"])
def test_token_and_check_methods_take_no_argument(method):
    assert [name for name, _, _ in parameters(getattr(ApiClient, method))] == ["self"]


def test_client_sign_takes_a_payload_and_keyword_only_expires_in():
    assert parameters(ApiClient.sign)[:3] == [
        ("self", POSITIONAL, inspect.Parameter.empty),
        ("payload", POSITIONAL, inspect.Parameter.empty),
        ("expires_in", KEYWORD_ONLY, None),
    ]


def test_check_result_has_the_contract_fields():
    assert [f.name for f in dataclasses.fields(CheckResult)] == [
        "ok",
        "method",
        "status_code",
        "latency_ms",
        "detail",
    ]


def test_aget_client_is_awaitable_and_the_async_client_has_the_contract_methods():
    pytest.importorskip("httpx", reason="the async client needs httpx: django-apiauth[async]")
    from django_apiauth.client import AsyncApiClient, aget_client

    assert inspect.iscoroutinefunction(aget_client)
    assert [name for name, _, _ in parameters(aget_client)] == ["name"]
    for name in ["request", "get", "post", "put", "patch", "delete"]:
        assert inspect.iscoroutinefunction(getattr(AsyncApiClient, name)), name
    for name in ["access_token", "invalidate_token", "check"]:
        assert inspect.iscoroutinefunction(getattr(AsyncApiClient, name)), name
    assert not inspect.iscoroutinefunction(AsyncApiClient.sign)


# ---------------------------------------------------------------------- signing


def test_signing_sign_takes_payload_secret_and_keyword_only_expires_in():
    assert parameters(signing.sign) == [
        ("payload", POSITIONAL, inspect.Parameter.empty),
        ("secret", POSITIONAL, inspect.Parameter.empty),
        ("expires_in", KEYWORD_ONLY, None),
    ]


@pytest.mark.parametrize(
    ("function", "first"),
    [(signing.verify_notification, "payload"), (signing.decode_notification, "token")],
)
def test_notification_checks_take_the_notification_then_the_secret(function, first):
    assert [name for name, _, _ in parameters(function)][:2] == [first, "secret"]


# ----------------------------------------------------------------------- crypto


@pytest.mark.parametrize(
    ("function", "names"),
    [(crypto.generate_key, []), (crypto.encrypt, ["text"]), (crypto.decrypt, ["token"])],
)
def test_crypto_functions_take_their_contract_arguments(function, names):
    assert [name for name, _, _ in parameters(function)][: len(names)] == names


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


# --------------------------------------------------------------------- commands


def parse(command: str, *args: str):
    parser = load_command_class("django_apiauth", command).create_parser("manage.py", command)
    return parser.parse_args(args)


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("apiauth_check", ["shop", "shop-de"], {"names": ["shop", "shop-de"]}),
        ("apiauth_check", ["--all"], {}),
        ("apiauth_rotate_keys", ["--dry-run"], {}),
        ("apiauth_generate_key", [], {}),
        ("apiauth_credential", ["set", "shop"], {"action": "set", "name": "shop"}),
        ("apiauth_credential", ["list"], {"action": "list"}),
        ("apiauth_credential", ["delete", "shop"], {"action": "delete", "name": "shop"}),
        ("apiauth_clear_tokens", [], {"names": []}),
        ("apiauth_clear_tokens", ["shop", "shop-de"], {"names": ["shop", "shop-de"]}),
        ("apiauth_sandbox", ["127.0.0.1:8001"], {"addrport": "127.0.0.1:8001"}),
        ("apiauth_sandbox", [], {}),
    ],
)
def test_every_command_takes_its_contract_arguments(command, args, expected):
    # An unknown option or a missing argument raises CommandError here.
    options = vars(parse(command, *args))
    assert {key: options.get(key) for key in expected} == expected


# ----------------------------------------------------------------- the test kit


def project_metadata() -> tuple[set[str], dict[str, str]]:
    """The extras and pytest11 entry points: of pyproject.toml in a source tree, else installed."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        import tomllib
    except ImportError:  # Python 3.10: read the installed metadata
        tomllib = None
    if pyproject.exists() and tomllib is not None:
        project = tomllib.loads(pyproject.read_text())["project"]
        return (
            set(project.get("optional-dependencies", {})),
            project.get("entry-points", {}).get("pytest11", {}),
        )
    distribution = metadata.distribution("django-apiauth")
    entry_points = {ep.name: ep.value for ep in distribution.entry_points if ep.group == "pytest11"}
    return set(distribution.metadata.get_all("Provides-Extra") or []), entry_points


def test_the_test_kit_ships_the_fake_provider_and_the_sandbox():
    from django_apiauth.testing import FakeProvider, start_sandbox

    assert inspect.isclass(FakeProvider)
    assert callable(start_sandbox)


def test_the_test_kit_is_a_pytest_plugin_through_a_pytest11_entry_point():
    _, entry_points = project_metadata()
    assert "django_apiauth.testing.plugin" in entry_points.values()


@pytest.mark.parametrize("fixture", ["fake_provider", "sandbox_provider"])
def test_the_plugin_provides_the_fixtures(fixture):
    from django_apiauth.testing import plugin

    assert callable(getattr(plugin, fixture))


@pytest.mark.parametrize(
    "extra",
    [
        "testing",
        "redis",
        "async",
    ],
)
def test_the_extras_exist(extra):
    extras, _ = project_metadata()
    assert extra in extras


# ---------------------------------------------------------------- notifications


@pytest.mark.parametrize("name", ["notification_received", "notification_refused"])
def test_the_notification_signals_exist(name):
    from django_apiauth import signals

    assert isinstance(getattr(signals, name), Signal)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("payment_notification", "notifications/shop-fr/payment/"),
        ("transfer_notification", "notifications/shop-fr/transfer/"),
    ],
)
def test_the_notification_routes_are_served_by_the_apps_urls(name, path):
    assert get_resolver("django_apiauth.urls").reverse(name, credential="shop-fr") == path
