"""``APIAUTH['ALLOWED_HOSTS']``: where an endpoint may point (issue 10, items 1 and 8)."""

import pytest
import responses
from django.core.exceptions import ValidationError

from django_apiauth.client import ApiClient
from django_apiauth.exceptions import ConfigurationError, InsecureTransportError
from django_apiauth.models import ApiCredential
from django_apiauth.testing import FakeProvider
from django_apiauth.transport import endpoints as endpoints
from tests.helpers import SECRETS

pytestmark = pytest.mark.django_db


def make(**fields):
    return ApiCredential(name="shop", **SECRETS, **fields)


def base_url_error(**fields):
    with pytest.raises(ValidationError) as caught:
        make(**fields).full_clean()
    return " ".join(caught.value.message_dict["base_url"])


def test_by_default_the_hosts_of_environments_are_allowed():
    make(base_url="https://back.ecard.pledg.co/").full_clean()
    make(environment="staging").full_clean()


def test_a_base_url_outside_allowed_hosts_is_refused_on_validation():
    assert "'attacker.example' is not in APIAUTH['ALLOWED_HOSTS']" in base_url_error(
        base_url="https://attacker.example"
    )


def test_an_allowed_host_on_another_port_is_refused():
    # Otherwise "Test connectivity" could probe the provider's other ports.
    message = base_url_error(base_url="https://back.ecard.pledg.co:22")
    assert "back.ecard.pledg.co:22" in message


def test_an_entry_with_a_leading_dot_allows_subdomains(settings):
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": [".pledg.example"]}
    make(base_url="https://eu.pledg.example").full_clean()
    make(base_url="https://pledg.example").full_clean()
    assert base_url_error(base_url="https://evilpledg.example")


def test_an_entry_with_a_port_allows_that_port_only(settings):
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": ["api.example:8443"]}
    make(base_url="https://api.example:8443").full_clean()
    assert base_url_error(base_url="https://api.example")


def test_loopback_needs_allow_insecure_loopback(settings):
    assert "127.0.0.1" in base_url_error(base_url="https://127.0.0.1:8443")
    settings.APIAUTH = {**settings.APIAUTH, "ALLOW_INSECURE_LOOPBACK": True}
    make(base_url="http://127.0.0.1:8001").full_clean()


def test_a_malformed_setting_is_a_configuration_error_naming_it(settings):
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": "api.example"}
    with pytest.raises(ConfigurationError, match=r"APIAUTH\['ALLOWED_HOSTS'\]"):
        endpoints.allowed_hosts()
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": ["https://api.example/"]}
    with pytest.raises(ConfigurationError, match="host names"):
        endpoints.allowed_hosts()


@pytest.fixture
def stray(settings):
    """A row pointing outside ALLOWED_HOSTS (written while the setting allowed it)."""
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": ["stray.example"]}
    credential = ApiCredential.objects.create(
        name="stray", base_url="https://stray.example", dashboard_username="a@b.c", **SECRETS
    )
    settings.APIAUTH = {**settings.APIAUTH, "ALLOWED_HOSTS": None}
    return ApiCredential.objects.get(pk=credential.pk)


def test_the_client_refuses_a_stored_endpoint_outside_allowed_hosts(stray):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for auth in ("basic", "none"):
            with pytest.raises(InsecureTransportError, match="stray.example"):
                ApiClient(stray).get("/api/orders", auth=auth)
        assert len(mock.calls) == 0


def test_the_token_fetch_refuses_a_stored_endpoint_outside_allowed_hosts(stray):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(InsecureTransportError, match="stray.example"):
            ApiClient(stray).access_token()
        assert len(mock.calls) == 0


def test_a_check_of_a_stored_endpoint_outside_allowed_hosts_sends_nothing(stray):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        result = ApiClient(stray).check()
        assert len(mock.calls) == 0
    assert not result.ok
    assert "not in APIAUTH['ALLOWED_HOSTS']" in result.detail


def test_a_fake_providers_host_is_allowed_only_while_it_runs():
    with FakeProvider("https://fake.example") as provider:
        credential = provider.create_credential(name="fake")
        assert ApiClient(credential).access_token()
    with pytest.raises(InsecureTransportError):
        endpoints.check_host_is_allowed("https://fake.example")
