"""No secret, token or Basic header in what error reports show (issue 10, item 2).

Each failure path is rendered the way ``AdminEmailHandler(include_html=True)``
does it (``ExceptionReporter`` HTML and text, ``DEBUG=False``) and read the way
a Sentry-style reporter does (every local of every frame of the exception and
of everything chained to it); neither may show a secret or its Basic form.
Failures are real where they can be: a refused connection and a read timeout
on loopback sockets, so the frames of ``requests`` and ``urllib3`` are there.
"""

from __future__ import annotations

import secrets

import pytest
import requests
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper

from django_apiauth.client import ApiClient
from django_apiauth.exceptions import TokenEndpointError
from django_apiauth.models import ApiCredential
from django_apiauth.testing import FakeProvider

from .reports import basic_forms, django_reports, everything_shown, frame_locals, leaks, raised

pytestmark = pytest.mark.django_db


def new_secrets() -> dict[str, str]:
    return {
        "api_key": f"key-{secrets.token_hex(8)}",
        "api_secret": secrets.token_urlsafe(24),
        "dashboard_username": f"login-{secrets.token_hex(6)}@shop.test",
        "dashboard_password": secrets.token_urlsafe(18),
        "signature_secret": secrets.token_urlsafe(24),
    }


def secret_values(fields: dict[str, str], tokens=()) -> list[str]:
    """Every secret of ``fields``, their Basic forms and ``tokens``."""
    values = [fields[name] for name in ("api_key", "api_secret", "dashboard_password")]
    values.append(fields.get("signature_secret") or "no-signature-secret-set")
    values += basic_forms(fields["api_key"], fields["api_secret"])
    values += basic_forms(fields["dashboard_username"], fields["dashboard_password"])
    return values + list(tokens)


def stored(name: str, base_url: str, fields: dict[str, str]) -> ApiCredential:
    return ApiCredential.objects.create(name=name, base_url=base_url, **fields)


CALLS = {
    "api call": lambda client: client.get("/api/orders"),
    "access_token()": lambda client: client.access_token(),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("failure", ["refused", "timeout"])
def test_an_unreachable_token_endpoint_reports_no_secret(request, failure, call):
    url = request.getfixturevalue("refusing_url" if failure == "refused" else "silent_url")
    fields = new_secrets()
    client = ApiClient(stored("shop", url, fields))

    exc = raised(lambda: CALLS[call](client))

    assert isinstance(exc, TokenEndpointError)
    assert leaks(secret_values(fields), everything_shown(exc)) == []


def test_a_token_endpoint_failure_chains_nothing(refusing_url):
    client = ApiClient(stored("shop", refusing_url, new_secrets()))

    exc = raised(client.access_token)

    # The requests error's frames hold the Basic header: it must not ride along.
    assert (exc.__cause__, exc.__context__) == (None, None)
    assert "token request for credential 'shop'" in str(exc)


@pytest.fixture
def provider_at(request):
    """A fake provider (token endpoint mocked) whose API paths reach the real socket."""

    def start(url: str, fields: dict[str, str]) -> FakeProvider:
        provider = FakeProvider(
            url,
            api_key=fields["api_key"],
            api_secret=fields["api_secret"],
            dashboard_username=fields["dashboard_username"],
            dashboard_password=fields["dashboard_password"],
        ).start()
        request.addfinalizer(provider.stop)
        provider.mock.add_passthru(f"{url}/api/orders")
        return provider

    return start


@pytest.mark.parametrize("auth", ["token", "basic"])
@pytest.mark.parametrize("failure", ["refused", "timeout"])
def test_a_failing_api_call_reports_no_token_or_login(request, provider_at, failure, auth):
    url = request.getfixturevalue("refusing_url" if failure == "refused" else "silent_url")
    fields = new_secrets()
    provider = provider_at(url, fields)
    client = ApiClient(stored("shop", url, fields))

    exc = raised(lambda: client.get("/api/orders?page=2", auth=auth))

    assert isinstance(exc, requests.RequestException)
    if auth == "token":
        assert provider.issued_tokens  # a token was sent, and is not shown
    assert leaks(secret_values(fields, provider.issued_tokens), everything_shown(exc)) == []


def test_a_failing_api_call_raises_a_requests_error_of_the_same_class(refusing_url, provider_at):
    fields = new_secrets()
    provider_at(refusing_url, fields)
    client = ApiClient(stored("shop", refusing_url, fields))

    exc = raised(lambda: client.get("/api/orders?page=2"))

    assert type(exc) is requests.ConnectionError  # what requests raised: callers' excepts hold
    assert (exc.__cause__, exc.__context__) == (None, None)
    host = refusing_url.removeprefix("http://")
    assert str(exc) == f"GET {host}/api/orders failed (ConnectionError)"


def test_a_timed_out_api_call_says_so(silent_url, provider_at):
    fields = new_secrets()
    provider_at(silent_url, fields)
    client = ApiClient(stored("shop", silent_url, fields))

    exc = raised(lambda: client.get("/api/orders"))

    assert isinstance(exc, requests.ConnectionError)  # urllib3's read timeout, after retries
    assert str(exc).endswith("/api/orders timed out")


def test_a_token_answer_refused_for_its_lifetime_reports_no_token():
    fields = new_secrets()
    with FakeProvider(api_key=fields["api_key"], api_secret=fields["api_secret"]) as provider:
        token = secrets.token_urlsafe(24)
        provider.mock.replace(
            "POST",
            provider.base_url + provider.token_path,
            json={"access_token": token, "token_type": "Bearer", "expires_in": "soon"},
        )
        client = ApiClient(stored("shop", provider.base_url, fields))

        exc = raised(client.access_token)

    assert "expires_in" in str(exc)
    assert leaks([token], everything_shown(exc)) == []


# -- a database error while saving -------------------------------------------------


def make_writes_fail(monkeypatch):
    """Every INSERT/UPDATE of a credential fails as a lock timeout would."""
    execute = CursorWrapper._execute

    def failing(self, sql, params, *ignored_wrappers):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE")) and "apicredential" in sql:
            raise OperationalError("canceling statement due to lock timeout")
        return execute(self, sql, params, *ignored_wrappers)

    monkeypatch.setattr(CursorWrapper, "_execute", failing)


@pytest.fixture
def failing_writes(monkeypatch):
    make_writes_fail(monkeypatch)


def test_a_database_error_saving_new_secrets_reports_none_of_them(failing_writes):
    fields = new_secrets()
    credential = ApiCredential(name="shop", **fields)

    exc = raised(credential.save)

    assert isinstance(exc, OperationalError)
    assert leaks(secret_values(fields), everything_shown(exc)) == []


def test_a_database_error_updating_secrets_reports_none_of_them(monkeypatch):
    credential = stored("shop", "", new_secrets())
    credential = ApiCredential.objects.get(pk=credential.pk)  # loaded: secrets decrypted
    fields = new_secrets()  # rotation: new secrets typed in, the old ones loaded
    old = {name: getattr(credential, name) for name in fields}
    for name, value in fields.items():
        setattr(credential, name, value)
    make_writes_fail(monkeypatch)

    exc = raised(credential.save)

    assert isinstance(exc, OperationalError)
    assert leaks(secret_values(fields) + secret_values(old), everything_shown(exc)) == []


@pytest.mark.django_db(transaction=True)
def test_a_real_lock_timeout_on_postgresql_reports_no_secret():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a lock timeout needs PostgreSQL (APIAUTH_TEST_DATABASE=postgres)")
    import psycopg

    credential = stored("shop", "", new_secrets())
    fields = new_secrets()
    for name, value in fields.items():
        setattr(credential, name, value)
    params = connection.get_connection_params()
    with psycopg.connect(**params) as holder:
        # Another worker holds the row (a rotation batch, say).
        holder.execute(
            "SELECT 1 FROM django_apiauth_apicredential WHERE id = %s FOR UPDATE", [credential.pk]
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '50ms'")
        exc = raised(credential.save)
        holder.rollback()
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")

    assert isinstance(exc, OperationalError)
    assert "lock" in str(exc)
    assert leaks(secret_values(fields), everything_shown(exc)) == []


def test_the_scan_sees_frame_variables_and_messages():
    # The scan is worth something only if what a report shows does show up.
    def holds_a_secret():
        api_secret = "plain-secret-in-a-frame"  # noqa: F841 - read by the report
        raise ValueError("message-of-the-error")

    exc = raised(holds_a_secret)
    html, text = django_reports(exc)

    assert "plain-secret-in-a-frame" in html  # the HTML report shows frame variables
    assert "message-of-the-error" in text  # the text one, messages and source lines
    assert leaks(["plain-secret-in-a-frame"], frame_locals(exc))
