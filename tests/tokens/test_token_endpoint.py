"""What the token endpoint may answer, and what each answer becomes."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import requests

from django_apiauth import __version__
from django_apiauth.exceptions import (
    InvalidCredentialsError,
    MalformedTokenResponseError,
    TokenEndpointError,
)

pytestmark = pytest.mark.django_db


def token_call(provider):
    return next(
        call for call in provider.mock.calls if call.request.url.endswith(provider.token_path)
    )


def test_token_request_is_a_client_credentials_post_with_basic_key_and_secret(
    api_client, fake_provider
):
    api_client.access_token()
    request = token_call(fake_provider).request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body) == {"grant_type": ["client_credentials"]}
    expected = requests.auth._basic_auth_str(fake_provider.api_key, fake_provider.api_secret)
    assert request.headers["Authorization"] == expected


def test_token_request_carries_a_versioned_user_agent(api_client, fake_provider):
    api_client.access_token()
    assert (
        token_call(fake_provider)
        .request.headers["User-Agent"]
        .startswith(f"django-apiauth/{__version__} ")
    )


def test_token_request_always_has_a_timeout(api_client, fake_provider, apiauth):
    apiauth(TIMEOUT=(1.5, 4))
    api_client.access_token()
    assert token_call(fake_provider).request.req_kwargs["timeout"] == (1.5, 4)


@pytest.mark.parametrize("status", [400, 401])
def test_wrong_secret_is_invalid_credentials(api_client, fake_provider, status):
    fake_provider.fail_token_requests(status=status, body='{"error": "invalid_client"}')
    with pytest.raises(InvalidCredentialsError) as info:
        api_client.access_token()
    assert info.value.status_code == status
    assert info.value.error == "invalid_client"
    assert info.value.credential == "shop"
    assert "'shop'" in str(info.value)
    assert "invalid_client" in str(info.value)


def test_real_wrong_secret_is_refused_by_the_provider(fake_provider, db):
    credential = fake_provider.create_credential(name="typo", api_secret="not-the-secret")
    from django_apiauth.client import ApiClient

    with pytest.raises(InvalidCredentialsError) as info:
        ApiClient(credential).access_token()
    assert info.value.error == "invalid_client"


def test_unsupported_grant_answer_is_invalid_credentials_with_its_code(api_client, fake_provider):
    fake_provider.fail_token_requests(status=400, body='{"error": "unsupported_grant_type"}')
    with pytest.raises(InvalidCredentialsError) as info:
        api_client.access_token()
    assert info.value.error == "unsupported_grant_type"


def test_a_401_without_an_oauth_error_is_an_endpoint_failure_not_a_credentials_one(
    api_client, fake_provider
):
    fake_provider.fail_token_requests(
        status=401, body="<html>Login</html>", content_type="text/html"
    )
    with pytest.raises(TokenEndpointError) as info:
        api_client.access_token()
    assert info.value.status_code == 401


def test_an_error_code_with_odd_characters_is_not_echoed(api_client, fake_provider):
    fake_provider.fail_token_requests(status=401, body='{"error": "<script>x</script>"}')
    with pytest.raises(TokenEndpointError) as info:
        api_client.access_token()
    assert "script" not in str(info.value)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><body>Maintenance</body></html>", "text/html"),
        ("", "text/plain"),
        ('["a", "list"]', "application/json"),
        ("null", "application/json"),
    ],
    ids=["html", "empty", "json-list", "json-null"],
)
def test_a_200_that_is_not_a_json_object_is_malformed(
    api_client, fake_provider, body, content_type
):
    fake_provider.fail_token_requests(status=200, body=body, content_type=content_type)
    with pytest.raises(MalformedTokenResponseError) as info:
        api_client.access_token()
    assert "not a JSON object" in str(info.value)
    assert "Maintenance" not in str(info.value)


@pytest.mark.parametrize("access_token", [None, "", "   ", 42])
def test_json_without_a_usable_access_token_is_malformed(api_client, fake_provider, access_token):
    body = {"token_type": "Bearer", "expires_in": 600}
    if access_token is not None:
        body["access_token"] = access_token
    import json

    fake_provider.fail_token_requests(status=200, body=json.dumps(body))
    with pytest.raises(MalformedTokenResponseError, match="without an access_token"):
        api_client.access_token()


@pytest.mark.parametrize("access_token", ["tok-SECRET\nX-Injected: 1", "tok SECRET", "tok-SECRÉT"])
def test_an_access_token_a_header_cannot_carry_is_malformed_and_not_echoed(
    api_client, fake_provider, access_token
):
    import json

    body = {"access_token": access_token, "token_type": "Bearer", "expires_in": 600}
    fake_provider.fail_token_requests(status=200, body=json.dumps(body))
    with pytest.raises(MalformedTokenResponseError, match="cannot be sent in a header") as info:
        api_client.access_token()
    assert "SECR" not in str(info.value)


@pytest.mark.parametrize("token_type", ["mac", "Basic", 7])
def test_a_token_type_other_than_bearer_is_malformed(api_client, fake_provider, token_type):
    import json

    body = {"access_token": "tok-123", "token_type": token_type, "expires_in": 600}
    fake_provider.fail_token_requests(status=200, body=json.dumps(body))
    with pytest.raises(MalformedTokenResponseError, match="only Bearer"):
        api_client.access_token()


@pytest.mark.parametrize("token_type", ["bearer", "BEARER"])
def test_token_type_is_compared_case_insensitively(api_client, fake_provider, token_type):
    import json

    body = {"access_token": "tok-123", "token_type": token_type, "expires_in": 600}
    fake_provider.fail_token_requests(status=200, body=json.dumps(body))
    assert api_client.access_token() == "tok-123"


def token_with(provider, **fields):
    import json

    body = {"access_token": "tok-123", "token_type": "Bearer", **fields}
    provider.fail_token_requests(status=200, body=json.dumps(body))


def test_missing_expires_in_means_the_documented_ten_minutes(api_client, fake_provider):
    token_with(fake_provider)
    assert api_client.store.get().lifetime == 600


def test_a_numeric_string_expires_in_is_accepted(api_client, fake_provider):
    token_with(fake_provider, expires_in="300")
    assert api_client.store.get().lifetime == 300


@pytest.mark.parametrize("expires_in", [-5, 0, "soon", "", True, [600], {"s": 1}])
def test_an_unusable_expires_in_is_malformed(api_client, fake_provider, expires_in):
    token_with(fake_provider, expires_in=expires_in)
    with pytest.raises(MalformedTokenResponseError, match="expires_in"):
        api_client.access_token()


def test_a_huge_expires_in_is_clamped_to_a_day(api_client, fake_provider, caplog):
    token_with(fake_provider, expires_in=10**12)
    token = api_client.store.get()
    assert token.lifetime == 24 * 3600
    assert "using it for at most" in caplog.text


def test_a_503_burst_shorter_than_the_retries_is_absorbed(api_client, fake_provider, apiauth):
    apiauth(MAX_RETRIES=2)
    fake_provider.fail_token_requests(2, status=503)
    assert api_client.access_token()
    assert fake_provider.token_requests == 3


def test_a_503_burst_longer_than_the_retries_is_an_endpoint_error(
    api_client, fake_provider, apiauth
):
    apiauth(MAX_RETRIES=2)
    fake_provider.fail_token_requests(5, status=503)
    with pytest.raises(TokenEndpointError) as info:
        api_client.access_token()
    assert info.value.status_code == 503
    assert fake_provider.token_requests == 3


def test_a_404_points_at_the_url_setup(api_client, fake_provider):
    fake_provider.fail_token_requests(status=404, body="not found", content_type="text/plain")
    with pytest.raises(TokenEndpointError, match="HTTP 404"):
        api_client.access_token()


def test_a_redirect_is_not_followed_with_the_secret(api_client, fake_provider):
    fake_provider.fail_token_requests(
        status=302, body="", headers={"Location": "https://evil.test/"}
    )
    with pytest.raises(TokenEndpointError, match="redirect"):
        api_client.access_token()
    assert not any("evil.test" in call.request.url for call in fake_provider.mock.calls)


def test_a_timeout_is_an_endpoint_error_naming_the_credential(api_client, fake_provider, apiauth):
    apiauth(MAX_RETRIES=0)
    fake_provider.fail_token_requests(exception=requests.ReadTimeout("read timed out"))
    with pytest.raises(TokenEndpointError, match="'shop'.*timed out"):
        api_client.access_token()


def test_a_refused_connection_is_an_endpoint_error(api_client, fake_provider, apiauth):
    apiauth(MAX_RETRIES=0)
    fake_provider.fail_token_requests(exception=requests.ConnectionError("refused"))
    with pytest.raises(TokenEndpointError, match="to provider.test failed \\(ConnectionError\\)"):
        api_client.access_token()


def test_a_real_refused_connection_is_an_endpoint_error(refusing_url, db):
    from django_apiauth.client import ApiClient
    from django_apiauth.models import ApiCredential

    credential = ApiCredential.objects.create(
        name="closed", base_url=refusing_url, api_key="k", api_secret="s"
    )
    with pytest.raises(TokenEndpointError, match="failed \\(ConnectionError\\)"):
        ApiClient(credential).access_token()


def test_a_real_server_that_never_answers_times_out(silent_url, db):
    from django_apiauth.client import ApiClient
    from django_apiauth.models import ApiCredential

    credential = ApiCredential.objects.create(
        name="silent", base_url=silent_url, api_key="k", api_secret="s"
    )
    with pytest.raises(TokenEndpointError, match="timed out"):
        ApiClient(credential).access_token()


def test_a_password_in_the_base_url_never_reaches_a_message(fake_provider, db):
    from django_apiauth.client import ApiClient
    from django_apiauth.exceptions import ApiAuthError, InsecureTransportError
    from django_apiauth.models import ApiCredential

    url = "https://ops:url-pa55word@provider.test"
    with pytest.raises(InsecureTransportError, match="plain host") as refused:
        fake_provider.create_credential(name="userinfo", base_url=url)
    assert "url-pa55word" not in str(refused.value)
    credential = fake_provider.create_credential(name="userinfo")
    ApiCredential.objects.filter(pk=credential.pk).update(base_url=url)  # around save()
    credential = ApiCredential.objects.get(pk=credential.pk)
    # Refused before anything is sent: requests would send the userinfo as Basic auth.
    with pytest.raises(ApiAuthError) as info:
        ApiClient(credential).access_token()
    assert "url-pa55word" not in str(info.value)
    assert "provider.test" in str(info.value)
    assert fake_provider.token_requests == 0

    result = ApiClient(credential).check()
    assert result.ok is False
    assert "url-pa55word" not in result.detail


def test_a_password_in_a_refused_http_url_is_not_echoed(db):
    from django_apiauth.client import ApiClient
    from django_apiauth.exceptions import InsecureTransportError
    from django_apiauth.models import ApiCredential

    credential = ApiCredential(
        name="plain",
        base_url="http://ops:url-pa55word@provider.example",
        api_key="k",
        api_secret="s",
    )
    with pytest.raises(InsecureTransportError) as info:
        ApiClient(credential).access_token()
    assert "url-pa55word" not in str(info.value)
    assert "provider.example" in str(info.value)
