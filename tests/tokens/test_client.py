"""``get_client``, ``ApiClient`` calls, ``sign`` and ``check``."""

from __future__ import annotations

import jwt
import pytest

from django_apiauth.client import ApiClient, CheckResult, get_client
from django_apiauth.exceptions import ConfigurationError, CredentialNotFound, TokenEndpointError

pytestmark = pytest.mark.django_db


def test_get_client_finds_an_active_credential_by_name(credential):
    client = get_client("shop")
    assert isinstance(client, ApiClient)
    assert client.credential.pk == credential.pk


def test_get_client_refuses_an_inactive_credential(fake_provider, db):
    fake_provider.create_credential(name="old-shop", is_active=False)
    with pytest.raises(CredentialNotFound, match="'old-shop'"):
        get_client("old-shop")


def test_get_client_refuses_an_unknown_name(db):
    with pytest.raises(CredentialNotFound, match="'nope'"):
        get_client("nope")


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_each_shortcut_sends_its_method_to_the_credential_endpoint(
    api_client, fake_provider, method
):
    fake_provider.add_bearer_endpoint(method.upper(), "/api/things/1", json={"ok": True})
    response = getattr(api_client, method)("api/things/1")
    assert response.status_code == 200
    assert response.request.method == method.upper()
    assert response.request.url == "https://provider.test/api/things/1"


def test_requests_keyword_arguments_pass_through(api_client, fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/things", json=[])
    response = api_client.get("/api/things", params={"page": 2}, headers={"X-Trace": "t1"})
    assert response.request.url.endswith("/api/things?page=2")
    assert response.request.headers["X-Trace"] == "t1"


def test_an_absolute_url_is_refused_so_credentials_stay_on_their_endpoint(
    api_client, fake_provider
):
    with pytest.raises(ConfigurationError, match="pass a path"):
        api_client.get("https://evil.test/steal")
    assert len(fake_provider.mock.calls) == 0


def test_authenticated_calls_do_not_follow_redirects(api_client, fake_provider):
    fake_provider.mock.add(
        "GET", "https://provider.test/api/moved", status=301, headers={"Location": "/api/new"}
    )
    response = api_client.get("/api/moved")
    assert response.status_code == 301
    assert all(not c.request.url.endswith("/api/new") for c in fake_provider.mock.calls)


def test_a_followed_redirect_to_another_host_never_gets_the_token(api_client, fake_provider):
    # requests drops the header on a change of host; a 401 there must not put it back.
    fake_provider.mock.add(
        "GET",
        "https://provider.test/api/moved",
        status=302,
        headers={"Location": "https://elsewhere.test/collect"},
    )
    fake_provider.mock.add("GET", "https://elsewhere.test/collect", status=401)
    token = api_client.access_token()
    response = api_client.get("/api/moved", allow_redirects=True)
    assert response.status_code == 401
    elsewhere = [c for c in fake_provider.mock.calls if "elsewhere.test" in c.request.url]
    assert len(elsewhere) == 1
    assert "Authorization" not in elsewhere[0].request.headers
    assert api_client.access_token() == token  # not the token that proved dead
    assert fake_provider.token_requests == 1


def test_a_followed_redirect_on_the_same_host_keeps_healing_a_401(api_client, fake_provider):
    fake_provider.add_bearer_endpoint("GET", "/api/new", json={"moved": True})
    fake_provider.mock.add(
        "GET", "https://provider.test/api/moved", status=301, headers={"Location": "/api/new"}
    )
    api_client.access_token()
    fake_provider.revoke_tokens()
    response = api_client.get("/api/moved", allow_redirects=True)
    assert response.json() == {"moved": True}
    assert fake_provider.token_requests == 2


def test_access_token_and_invalidate_token(api_client, fake_provider):
    token = api_client.access_token()
    assert api_client.access_token() == token
    api_client.invalidate_token()
    assert api_client.access_token() != token
    assert fake_provider.token_requests == 2


def test_every_client_of_a_credential_shares_its_token(api_client, credential, fake_provider):
    token = api_client.access_token()
    assert get_client(credential.name).access_token() == token
    assert ApiClient(credential).access_token() == token
    assert fake_provider.token_requests == 1


def test_sign_makes_an_hs256_jwt_with_the_signature_secret(fake_provider, db):
    credential = fake_provider.create_credential(name="signer", signature_secret="s" * 32)
    token = ApiClient(credential).sign({"data": {"amountCents": 1000}}, expires_in=60)
    decoded = jwt.decode(token, "s" * 32, algorithms=["HS256"])
    assert decoded["data"] == {"amountCents": 1000}
    assert "exp" in decoded


def test_sign_without_a_signature_secret_is_a_configuration_error(api_client):
    with pytest.raises(ConfigurationError, match="'shop' has no signature secret"):
        api_client.sign({"data": {}})


# --- check() ----------------------------------------------------------------------------


def test_check_fetches_a_fresh_token_even_when_one_is_cached(api_client, fake_provider):
    api_client.access_token()
    result = api_client.check()
    assert isinstance(result, CheckResult)
    assert result.ok is True
    assert result.method == "token"
    assert result.status_code == 200
    assert result.latency_ms >= 0
    assert fake_provider.token_requests == 2


def test_check_then_gets_the_check_path(api_client, fake_provider, apiauth):
    apiauth(CHECK_PATH="/api/merchants/me")
    fake_provider.add_bearer_endpoint("GET", "/api/merchants/me", json={"uid": "m1"})
    result = api_client.check()
    assert result.ok is True
    assert result.method == "token+GET /api/merchants/me"
    assert fake_provider.bearer_calls == 1


def test_a_check_path_without_a_leading_slash_is_the_same_path(api_client, fake_provider, apiauth):
    apiauth(CHECK_PATH="api/merchants/me")
    fake_provider.add_bearer_endpoint("GET", "/api/merchants/me", json={"uid": "m1"})
    assert api_client.check().ok is True
    assert fake_provider.bearer_calls == 1


@pytest.mark.parametrize("check_path", [5, ["/api/merchants/me"]])
def test_a_check_path_that_is_not_text_fails_the_check_with_a_clear_detail(
    api_client, fake_provider, apiauth, check_path
):
    apiauth(CHECK_PATH=check_path)
    result = api_client.check()
    assert result.ok is False
    assert "APIAUTH['CHECK_PATH'] must be a path" in result.detail
    assert fake_provider.token_requests == 0


def test_check_reports_a_failing_check_path(api_client, fake_provider, apiauth):
    apiauth(CHECK_PATH="/api/merchants/me")
    fake_provider.add_bearer_endpoint("GET", "/api/merchants/me", json={}, status=500)
    result = api_client.check()
    assert result.ok is False
    assert result.status_code == 500
    assert "HTTP 500" in result.detail


def test_check_reports_refused_credentials_without_raising(api_client, fake_provider):
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    result = api_client.check()
    assert result.ok is False
    assert result.status_code == 401
    assert "refused the API key and secret (invalid_client)" in result.detail


def test_check_asks_the_provider_even_after_a_remembered_invalid_client(api_client, fake_provider):
    fake_provider.fail_token_requests(status=401, body='{"error": "invalid_client"}')
    api_client.check()
    assert api_client.check().ok is True  # the operator fixed it provider-side
    assert fake_provider.token_requests == 2


def test_a_successful_check_ends_a_remembered_retry_after(api_client, fake_provider, apiauth):
    apiauth(MAX_RETRIES=0)
    fake_provider.fail_token_requests(status=503, headers={"Retry-After": "600"})
    with pytest.raises(TokenEndpointError):
        api_client.access_token()
    assert api_client.check().ok is True  # the provider answers again
    api_client.invalidate_token()
    assert ApiClient(api_client.credential).access_token()  # not "asked to wait" for 10 min
    assert fake_provider.token_requests == 3


def test_check_reports_an_unreachable_provider_without_raising(
    api_client, fake_provider, apiauth, caplog
):
    apiauth(MAX_RETRIES=0)
    import requests

    fake_provider.fail_token_requests(exception=requests.ConnectTimeout())
    result = api_client.check()
    assert result.ok is False
    assert result.status_code is None
    assert "could not be reached" in result.detail
    assert "timed out" in caplog.text


def test_check_reports_a_configuration_problem_without_raising(fake_provider, db):
    credential = fake_provider.create_credential(name="plain", base_url="http://provider.test")
    result = ApiClient(credential).check()
    assert result.ok is False
    assert "https://" in result.detail


def test_check_detail_is_short(api_client, fake_provider):
    fake_provider.fail_token_requests(
        status=200, body="<html>" + "x" * 5000, content_type="text/html"
    )
    assert len(api_client.check().detail) < 255


def test_check_reports_a_failing_token_endpoint_without_raising(api_client, fake_provider):
    fake_provider.fail_token_requests(
        5, status=503, body="<html>down</html>", content_type="text/html"
    )
    result = api_client.check()
    assert result.ok is False
    assert result.status_code == 503
    assert "answered HTTP 503" in result.detail
    assert fake_provider.api_secret not in result.detail
