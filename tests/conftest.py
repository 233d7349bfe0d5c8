"""Shared fixtures: key ring hygiene, the credentials and providers, real services (Redis), markers.

Each fixture is defined here once, with one meaning:

- ``fake_provider`` (the shipped plugin, ``django_apiauth.testing``): a fake
  provider at ``https://provider.test`` with random secrets;
- ``credential``: a saved ``ApiCredential`` ("shop") bound to ``fake_provider``'s account;
- ``staging_credential``: a saved ``ApiCredential`` ("shop-fr") of the staging
  environment holding the known ``tests.helpers.SECRETS``; no provider involved;
- ``staging_provider``: a fake provider at the staging URL that knows ``SECRETS``,
  so ``staging_credential`` checks against it;
- ``shop``: a saved ``ApiCredential`` "shop" signing notifications with
  ``tests.vectors.SIGNATURE_SECRET`` (the notification and signature tests);
- ``secrets``: a copy of ``SECRETS``; ``apiauth``: edit ``settings.APIAUTH`` in place;
- ``refusing_url`` / ``silent_url``: loopback URLs that refuse connections / never answer.

Tests that need a service (marked ``redis``; every test of a run with
``APIAUTH_TEST_DATABASE=postgres``) skip with one summary line per missing service,
naming the command that starts it, unless ``APIAUTH_REQUIRE_SERVICES=1`` (set by
``.ci/run``), which turns the skip into a failure. See ``tests/services.py``: the
suite never deletes Redis data it did not write.
"""

from __future__ import annotations

import contextlib
import os
import socket

import pytest

from django_apiauth import crypto
from tests import services
from tests.helpers import SECRETS, STAGING
from tests.vectors import SIGNATURE_SECRET

PLUGIN = "django_apiauth.testing.plugin"


def _plugin_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))


# An installed django-apiauth loads the test kit's plugin through its pytest11
# entry point; a source tree whose installed metadata predates the entry point
# (or none at all) registers it here. Never both: pluggy refuses a plugin twice.
pytest_plugins = [] if _plugin_installed() else [PLUGIN]


def require(service: services.Service) -> None:
    """Skip (or fail, in CI) unless ``service`` is up; one location, so one summary line."""
    if service.missing is None:
        return
    if services.services_required():
        pytest.fail(f"{service.missing}; APIAUTH_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(service.missing)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # pytest reports a skip at each test's file: a missing service, one cause, gets one line.
    reason = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else ""
    if any(s.missing and s.missing in reason for s in (services.POSTGRES, services.REDIS)):
        report.longrepr = (services.__file__, None, reason)
    return report


@pytest.fixture(scope="session", autouse=True)
def _postgres_service():
    # Before pytest-django creates the test database: without the server, Django
    # would fall back with a RuntimeWarning (an error here) instead of saying so.
    if os.environ.get("APIAUTH_TEST_DATABASE") == "postgres":
        require(services.POSTGRES)


@pytest.fixture(autouse=True)
def _redis_service(request):
    if request.node.get_closest_marker("redis"):
        require(services.REDIS)


@pytest.fixture(autouse=True)
def _fresh_key_ring():
    # The ring also depends on $APIAUTH_ENCRYPTION_KEYS, which setting_changed
    # does not see; start every test from the settings in force.
    crypto.get_key_ring.cache_clear()
    yield
    crypto.get_key_ring.cache_clear()


@pytest.fixture(autouse=True)
def _clear_caches():
    from django.core.cache import caches
    from django.core.cache.backends.base import InvalidCacheBackendError

    from django_apiauth import credential_cache
    from django_apiauth.notifications import receive
    from django_apiauth.tokens import store as tokens

    yield
    receive.refusal_log.reset()  # each test sees its refusals logged
    # get_client() keeps clients per process; rows of one test are gone in the next.
    credential_cache.clear()
    # Tokens live in process memory too: a later test with the same pk and
    # secrets must not inherit one.
    tokens.clear_process_memory()
    # Not only the caches this thread initialized: the token store's cache calls
    # run in threads of their own. (LocMem's data is shared by all its instances.)
    for alias, config in caches.settings.items():
        if config.get("BACKEND", "").endswith("LocMemCache"):
            with contextlib.suppress(InvalidCacheBackendError):
                caches[alias].clear()


@pytest.fixture
def apiauth(settings):
    """Edit ``settings.APIAUTH`` in place: ``apiauth(MAX_RETRIES=0)``."""

    def update(**values):
        settings.APIAUTH = {**settings.APIAUTH, **values}

    return update


@pytest.fixture
def credential(fake_provider, db):
    """A saved ``ApiCredential`` named "shop", bound to ``fake_provider``'s account."""
    return fake_provider.create_credential(name="shop")


@pytest.fixture
def shop(db):
    """A saved ``ApiCredential`` "shop" whose notifications are signed with ``SIGNATURE_SECRET``."""
    from django_apiauth.models import ApiCredential

    return ApiCredential.objects.create(
        name="shop",
        base_url="https://provider.example",
        api_key="api-key-0123456789abcdef",
        api_secret="api-secret-0123456789abcdef",
        signature_secret=SIGNATURE_SECRET,
    )


@pytest.fixture
def secrets():
    return dict(SECRETS)


@pytest.fixture
def staging_credential(db):
    """A saved ``ApiCredential`` "shop-fr" of the staging environment holding ``SECRETS``."""
    from django_apiauth.models import ApiCredential

    return ApiCredential.objects.create(
        name="shop-fr",
        environment="staging",
        dashboard_username="ops@shop.example",
        merchant_uid="mer_fr_001",
        **SECRETS,
    )


@pytest.fixture
def staging_provider():
    """The provider (``responses``, no network) at the staging URL, knowing ``SECRETS``.

    Any request to another URL fails with a ``ConnectionError``, so a check that
    went anywhere but the stored endpoint cannot pass.
    """
    from django_apiauth.testing import FakeProvider

    with FakeProvider(
        STAGING, api_key=SECRETS["api_key"], api_secret=SECRETS["api_secret"]
    ) as fake:
        yield fake


@pytest.fixture
def attacker_allowed(settings):
    """The worst case: even a host the settings allow must not receive old secrets."""
    settings.APIAUTH = {
        **settings.APIAUTH,
        "ALLOWED_HOSTS": ["staging.back.ecard.pledg.co", "attacker.example"],
    }


@pytest.fixture
def decryptions(monkeypatch):
    """A list that gets one entry per value the key ring decrypts (``len(decryptions)``)."""
    calls: list = []
    name = "open" if hasattr(crypto.KeyRing, "open") else "decrypt"
    original = getattr(crypto.KeyRing, name)

    def counting(self, *args, **kwargs):
        calls.append(args[1] if len(args) > 1 else kwargs.get("context"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(crypto.KeyRing, name, counting)
    return calls


@pytest.fixture
def loopback(apiauth):
    """Real sockets on 127.0.0.1 (no retries, short timeouts): the frames of a real failure."""
    apiauth(ALLOW_INSECURE_LOOPBACK=True, MAX_RETRIES=0, TIMEOUT=(5, 0.2))


@pytest.fixture
def refusing_url(loopback):
    """``http://127.0.0.1:<port>`` where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_url(loopback):
    """``http://127.0.0.1:<port>`` that accepts connections and never answers: a read timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)  # the kernel completes the handshakes; nobody ever reads
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def redis_cache_settings(settings):
    """Point the ``default`` cache at Redis under a key prefix of this test's own; yields the entry.

    Afterwards only the keys under that prefix are deleted (never FLUSHDB: the
    database may hold a developer's own data).
    """
    require(services.REDIS)
    cache = services.own_redis_cache()
    settings.CACHES = {**settings.CACHES, "default": cache}
    yield cache
    services.delete_own_redis_keys(cache["KEY_PREFIX"])


def pytest_collection_modifyitems(config, items):
    if os.environ.get("APIAUTH_TEST_DATABASE") == "postgres":
        return
    for item in items:
        if item.get_closest_marker("postgres"):
            reason = "PostgreSQL run only: set APIAUTH_TEST_DATABASE=postgres (make test does)"
            item.add_marker(pytest.mark.skip(reason=reason))
