"""The session factory: User-Agent, timeouts, retries, TLS verification, HTTPS policy."""

from __future__ import annotations

import pytest
import responses

from django_apiauth import __version__
from django_apiauth.exceptions import ConfigurationError, InsecureTransportError
from django_apiauth.transport.sync import USER_AGENT, create_session

pytestmark = pytest.mark.django_db

URL = "https://provider.test/api/orders"


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def test_the_user_agent_names_the_version():
    assert create_session().headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith(f"django-apiauth/{__version__} ")


def test_a_timeout_is_applied_when_none_is_given(mock, apiauth):
    apiauth(TIMEOUT=(2, 7))
    mock.add("GET", URL, json={})
    create_session().get(URL)
    assert mock.calls[0].request.req_kwargs["timeout"] == (2, 7)


def test_an_explicit_timeout_wins(mock):
    mock.add("GET", URL, json={})
    create_session().get(URL, timeout=1)
    assert mock.calls[0].request.req_kwargs["timeout"] == 1


@pytest.mark.parametrize(("timeout", "applied"), [(5, 5), (2.5, 2.5), ([2, 7], (2, 7))])
def test_a_single_number_or_a_pair_is_a_valid_timeout(mock, apiauth, timeout, applied):
    apiauth(TIMEOUT=timeout)
    mock.add("GET", URL, json={})
    create_session().get(URL)
    assert mock.calls[0].request.req_kwargs["timeout"] == applied


@pytest.mark.parametrize("timeout", [None, (None, None), (3, None), 0, -1, "5", (1, 2, 3), True])
def test_a_timeout_setting_that_is_not_positive_seconds_is_a_configuration_error(apiauth, timeout):
    # None would mean "wait forever"; the others used to fail inside urllib3 at request time.
    apiauth(TIMEOUT=timeout)
    with pytest.raises(ConfigurationError, match=r"APIAUTH\['TIMEOUT'\]"):
        create_session()


@pytest.mark.parametrize("retries", [None, -1, "2", 2.5, True])
def test_a_max_retries_setting_that_is_not_a_whole_number_is_a_configuration_error(
    apiauth, retries
):
    # urllib3 reads None as "retry without limit".
    apiauth(MAX_RETRIES=retries)
    with pytest.raises(ConfigurationError, match=r"APIAUTH\['MAX_RETRIES'\]"):
        create_session()


def test_max_retries_zero_sends_once(mock, apiauth):
    apiauth(MAX_RETRIES=0)
    mock.add("GET", URL, status=503)
    assert create_session().get(URL).status_code == 503
    assert len(mock.calls) == 1


def test_a_bad_timeout_setting_fails_a_check_without_raising(fake_provider, apiauth):
    from django_apiauth.client import ApiClient

    apiauth(TIMEOUT=None)
    result = ApiClient(fake_provider.create_credential(name="shop")).check()
    assert result.ok is False
    assert "APIAUTH['TIMEOUT']" in result.detail
    assert fake_provider.token_requests == 0


def test_verify_false_is_refused_in_settings(apiauth):
    apiauth(VERIFY=False)
    with pytest.raises(ConfigurationError, match="VERIFY"):
        create_session()


def test_verify_false_is_refused_per_call(mock):
    mock.add("GET", URL, json={})
    with pytest.raises(ConfigurationError, match="TLS verification"):
        create_session().get(URL, verify=False)
    assert len(mock.calls) == 0


def test_a_ca_bundle_path_is_allowed(apiauth, tmp_path, mock):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    apiauth(VERIFY=str(bundle))
    assert create_session().verify == str(bundle)


def test_a_missing_ca_bundle_is_a_configuration_error(apiauth, tmp_path):
    apiauth(VERIFY=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match="existing CA bundle"):
        create_session()


def test_plain_http_to_a_public_host_is_refused_before_sending(mock):
    mock.add("GET", "http://provider.test/api/orders", json={})
    with pytest.raises(InsecureTransportError):
        create_session().get("http://provider.test/api/orders")
    assert len(mock.calls) == 0


def test_plain_http_to_loopback_needs_the_setting(mock, apiauth):
    mock.add("GET", "http://127.0.0.1:8000/api", json={})
    with pytest.raises(InsecureTransportError, match="ALLOW_INSECURE_LOOPBACK"):
        create_session().get("http://127.0.0.1:8000/api")
    apiauth(ALLOW_INSECURE_LOOPBACK=True)
    assert create_session().get("http://127.0.0.1:8000/api").status_code == 200


def test_a_redirect_to_plain_http_is_refused_when_followed(mock):
    mock.add("GET", URL, status=302, headers={"Location": "http://provider.test/elsewhere"})
    mock.add("GET", "http://provider.test/elsewhere", json={})
    with pytest.raises(InsecureTransportError):
        create_session().get(URL)
    assert [call.request.url for call in mock.calls] == [URL]


def test_an_idempotent_call_is_retried_on_503(mock, apiauth):
    apiauth(MAX_RETRIES=2)
    mock.add("GET", URL, status=503)
    mock.add("GET", URL, status=503)
    mock.add("GET", URL, json={"ok": True})
    assert create_session().get(URL).status_code == 200
    assert len(mock.calls) == 3


def test_a_post_is_not_retried(mock, apiauth):
    apiauth(MAX_RETRIES=2)
    mock.add("POST", URL, status=503)
    mock.add("POST", URL, json={})
    assert create_session().post(URL).status_code == 503
    assert len(mock.calls) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_never_retried(mock, apiauth, status):
    apiauth(MAX_RETRIES=2)
    mock.add("GET", URL, status=status)
    mock.add("GET", URL, json={})
    assert create_session().get(URL).status_code == status
    assert len(mock.calls) == 1


def test_retries_stop_at_max_retries(mock, apiauth):
    apiauth(MAX_RETRIES=1)
    for _ in range(3):
        mock.add("GET", URL, status=502)
    assert create_session().get(URL).status_code == 502
    assert len(mock.calls) == 2


def test_a_garbled_retry_after_does_not_crash(mock, apiauth):
    apiauth(MAX_RETRIES=1)
    mock.add("GET", URL, status=503, headers={"Retry-After": "soon-ish"})
    mock.add("GET", URL, json={})
    assert create_session().get(URL).status_code == 200
