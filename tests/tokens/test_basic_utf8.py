"""Non-Latin-1 secrets: Basic credentials go out as base64 of their UTF-8 bytes (issue 10, item 5).

``requests`` encodes a ``str`` login as Latin-1: ``€`` and emoji raised a
``UnicodeEncodeError`` whose ``.object`` is the whole secret, and ``é`` went
out as a byte the provider's UTF-8 decoding cannot read. The provider's own
plugins send UTF-8, and so does the fake provider.
"""

from __future__ import annotations

import base64

import pytest

from django_apiauth.client import ApiClient
from django_apiauth.exceptions import ConfigurationError
from django_apiauth.models import ApiCredential
from django_apiauth.testing import FakeProvider

pytestmark = pytest.mark.django_db

SECRETS = ["sécret-clé-été", "prix-€-100-€", "clé-🔑-emoji-🚀"]


def utf8_basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def sent_authorization(provider: FakeProvider, path: str) -> str:
    [call] = [call for call in provider.mock.calls if call.request.url.endswith(path)]
    return call.request.headers["Authorization"]


@pytest.mark.parametrize("secret", SECRETS)
def test_the_token_request_sends_base64_of_the_utf8_key_and_secret(secret):
    with FakeProvider(api_key=f"clé-{secret[:4]}", api_secret=secret) as provider:
        client = ApiClient(provider.create_credential(name="shop"))

        assert client.access_token() in provider.issued_tokens
        header = sent_authorization(provider, provider.token_path)

    assert header == utf8_basic(f"clé-{secret[:4]}", secret)


@pytest.mark.parametrize("secret", SECRETS)
def test_the_dashboard_login_is_sent_as_utf8(secret):
    with FakeProvider(dashboard_username="märchant@shop.test", dashboard_password=secret) as fake:
        fake.add_basic_endpoint("GET", "/api/dashboard", json={"ok": True})
        client = ApiClient(fake.create_credential(name="shop"))

        assert client.get("/api/dashboard", auth="basic").status_code == 200
        header = sent_authorization(fake, "/api/dashboard")

    assert header == utf8_basic("märchant@shop.test", secret)


@pytest.mark.parametrize("secret", SECRETS)
def test_a_check_with_non_latin1_secrets_succeeds(secret):
    with FakeProvider(api_secret=secret) as provider:
        result = ApiClient(provider.create_credential(name="shop")).check()

    assert result.ok is True


# A str that UTF-8 cannot encode: a lone surrogate (an environment variable holding
# bytes that are not UTF-8 decodes to one). It cannot be saved, only built in memory.
SURROGATE_SECRET = "s3cr3t-\udcff-surrogate"


def errors_of(exc: BaseException) -> list[BaseException]:
    chain = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def shown(exc: BaseException) -> str:
    return " ".join(f"{err!r} {err} {getattr(err, 'object', '')!r}" for err in errors_of(exc))


def test_an_api_secret_utf8_cannot_encode_is_refused_without_quoting_it():
    with FakeProvider() as provider:
        credential = ApiCredential(name="shop", **provider.credential_fields())
        credential.api_secret = SURROGATE_SECRET

        with pytest.raises(ConfigurationError, match="not valid Unicode text") as caught:
            ApiClient(credential).access_token()

        assert provider.token_requests == 0
    assert len(errors_of(caught.value)) == 1  # no UnicodeEncodeError chained
    assert "surrogate-" not in shown(caught.value) and "s3cr3t" not in shown(caught.value)


def test_a_dashboard_password_utf8_cannot_encode_is_refused_without_quoting_it():
    with FakeProvider() as provider:
        credential = ApiCredential(name="shop", **provider.credential_fields())
        credential.dashboard_password = SURROGATE_SECRET

        with pytest.raises(ConfigurationError, match="not valid Unicode text") as caught:
            ApiClient(credential).get("/api/dashboard", auth="basic")

        assert len(provider.mock.calls) == 0
    assert len(errors_of(caught.value)) == 1
    assert "s3cr3t" not in shown(caught.value)


def test_a_check_with_a_secret_utf8_cannot_encode_fails_without_raising(caplog):
    with FakeProvider() as provider:
        credential = ApiCredential(name="shop", **provider.credential_fields())
        credential.api_secret = SURROGATE_SECRET

        result = ApiClient(credential).check()

    assert result.ok is False
    assert "ConfigurationError" in result.detail  # the English text goes to the log
    assert "not valid Unicode text" in caplog.text
    assert "s3cr3t" not in repr(result) + caplog.text
