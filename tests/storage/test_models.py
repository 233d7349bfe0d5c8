"""ApiCredential validation, representation and masking."""

import pytest
from django.core.exceptions import ValidationError

from django_apiauth.exceptions import ConfigurationError
from django_apiauth.models import ApiCredential, mask
from tests.helpers import SECRETS

pytestmark = pytest.mark.django_db


def test_str_and_repr_show_no_secret(staging_credential):
    text = str(staging_credential) + repr(staging_credential)
    for value in SECRETS.values():
        assert value not in text
    assert "shop" in text


def test_masked_api_key_shows_last_four_only(staging_credential):
    assert staging_credential.masked_api_key() == "••••" + SECRETS["api_key"][-4:]


def test_short_values_are_masked_entirely():
    assert mask("abcd12") == "••••"
    assert mask("") == ""


def test_endpoint_comes_from_environment_or_base_url(settings):
    cred = ApiCredential(name="a", environment="production")
    assert cred.endpoint == "https://back.ecard.pledg.co"
    cred.base_url = "https://custom.example.com/"
    assert cred.endpoint == "https://custom.example.com"


def test_default_environment_is_read_from_settings(settings):
    settings.APIAUTH = {**settings.APIAUTH, "DEFAULT_ENVIRONMENT": "production"}
    assert ApiCredential(name="x").environment == "production"


def test_unknown_environment_is_refused_on_the_field():
    cred = ApiCredential(name="a", environment="moon", api_key="k", api_secret="s")
    with pytest.raises(ValidationError) as err:
        cred.full_clean()
    assert "unknown environment 'moon'" in err.value.message_dict["environment"][0]
    assert "staging" in err.value.message_dict["environment"][0]


def test_an_environment_removed_from_settings_names_the_credential_at_call_time(settings):
    cred = ApiCredential(name="shop-fr", environment="moon")
    with pytest.raises(ConfigurationError) as err:
        cred.endpoint
    assert "credential 'shop-fr'" in str(err.value)
    assert "unknown environment 'moon'" in str(err.value)


def test_environments_are_read_at_call_time(settings):
    settings.APIAUTH = {**settings.APIAUTH, "ENVIRONMENTS": {"moon": "https://moon.example"}}
    ApiCredential(name="a", environment="moon", api_key="k", api_secret="s").full_clean()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.example.com", "plain http://"),
        ("http://127.0.0.1:8000", "ALLOW_INSECURE_LOOPBACK"),
    ],
)
def test_http_base_url_is_refused(url, message):
    cred = ApiCredential(name="a", base_url=url, api_key="k", api_secret="s")
    with pytest.raises(ValidationError) as err:
        cred.full_clean()
    assert message in err.value.message_dict["base_url"][0]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.8.9.10"])
def test_http_loopback_allowed_only_when_enabled(settings, host):
    settings.APIAUTH = {**settings.APIAUTH, "ALLOW_INSECURE_LOOPBACK": True}
    ApiCredential(
        name="a", base_url=f"http://{host}:8000", api_key="k", api_secret="s"
    ).full_clean()


def test_http_to_a_public_host_is_refused_even_with_loopback_allowed(settings):
    settings.APIAUTH = {**settings.APIAUTH, "ALLOW_INSECURE_LOOPBACK": True}
    cred = ApiCredential(
        name="a", base_url="http://127.0.0.1.evil.com", api_key="k", api_secret="s"
    )
    with pytest.raises(ValidationError):
        cred.full_clean()


def test_api_key_and_secret_are_required():
    with pytest.raises(ValidationError) as err:
        ApiCredential(name="a").full_clean()
    assert {"api_key", "api_secret"} <= set(err.value.message_dict)


def test_test_connectivity_permission_exists():
    from django.contrib.auth.models import Permission

    assert Permission.objects.filter(
        codename="test_connectivity", content_type__app_label="django_apiauth"
    ).exists()


@pytest.mark.parametrize("netloc", ["user:pa55word@api.example.com", "token@api.example.com"])
def test_base_url_with_userinfo_is_refused_without_echoing_it(netloc):
    cred = ApiCredential(name="a", base_url=f"https://{netloc}", api_key="k", api_secret="s")
    with pytest.raises(ValidationError) as err:
        cred.full_clean()
    message = err.value.message_dict["base_url"][0]
    assert "user name or password" in message
    assert "pa55word" not in message and "token@" not in message


@pytest.mark.parametrize(
    ("value", "shown"),
    [("abcd1234", "••••1234"), ("abcd123", "••••"), ("k" * 30 + "wxyz", "••••wxyz")],
)
def test_keys_of_eight_characters_or_more_show_their_last_four(value, shown):
    assert mask(value) == shown
