"""System checks with stable ids (``django_apiauth.E001`` ...).

Settings are checked by the validators of their ``conf.SETTINGS`` entries, the same
ones the code runs at request time.
"""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError
from django.utils.translation import gettext as _

from django_apiauth.conf import SETTING_NAME, api_settings
from django_apiauth.crypto import build_key_ring
from django_apiauth.exceptions import ApiAuthError, ConfigurationError
from django_apiauth.fields import Ciphertext
from django_apiauth.models import ApiCredential
from django_apiauth.rotation import PLAINTEXT, values_per_key
from django_apiauth.tokens import shared_cache
from django_apiauth.tokens.timing import fetch_budget

__all__ = [
    "check_encryption_keys",
    "check_encryption_keys_deploy",
    "check_keys_still_in_use",
    "check_redis_socket_timeouts",
    "check_settings",
    "check_token_cache",
    "check_token_cache_reachable",
    "check_token_timing",
    "token_cache_messages",
]


#: Backends whose entries each process keeps to itself: no fleet sharing.
LOCAL_BACKENDS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
#: Backends whose client library takes socket timeouts in ``OPTIONS`` (Django's and django-redis).
REDIS_BACKENDS = ("django.core.cache.backends.redis.RedisCache", "django_redis.cache.RedisCache")


@register(Tags.security)
def check_encryption_keys(app_configs=None, **kwargs):
    try:
        ring = build_key_ring()
    except ConfigurationError as err:
        return [
            Error(
                str(err),
                hint=_(
                    "Generate a key with `manage.py apiauth_generate_key` and put it first "
                    "in APIAUTH['ENCRYPTION_KEYS'] or $APIAUTH_ENCRYPTION_KEYS."
                ),
                id="django_apiauth.E001",
            )
        ]
    if ring.primary.derived_from_secret_key:
        return [
            Warning(
                _("Credentials are encrypted with a key derived from SECRET_KEY."),
                hint=_(
                    "Set a dedicated key (manage.py apiauth_generate_key) in "
                    "APIAUTH['ENCRYPTION_KEYS'] or $APIAUTH_ENCRYPTION_KEYS, then run "
                    "apiauth_rotate_keys."
                ),
                id="django_apiauth.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_encryption_keys_deploy(app_configs=None, **kwargs):
    try:
        ring = build_key_ring()
    except ConfigurationError:
        return []  # already reported by E001
    if ring.primary.derived_from_secret_key:
        return [
            Error(
                _(
                    "A production deployment must not encrypt credentials with a key derived "
                    "from SECRET_KEY."
                ),
                hint=_("Set APIAUTH['ENCRYPTION_KEYS'] or $APIAUTH_ENCRYPTION_KEYS."),
                id="django_apiauth.E002",
            )
        ]
    return []


def setting_errors(tag: str) -> list[CheckMessage]:
    """One error per bad value among the settings reported under ``tag``."""
    return [
        Error(message, hint=str(entry.hint), id=entry.check_id)  # hint in today's language
        for entry, message in api_settings.problems(tag)
    ]


@register(Tags.security)
def check_settings(app_configs=None, **kwargs):
    """Every ``APIAUTH`` value through its validator, and unknown keys (usually typos)."""
    messages = setting_errors(Tags.security)
    unknown = api_settings.unknown_keys()
    if unknown:
        guesses = {key: api_settings.did_you_mean(key) for key in unknown}
        named = [
            _("%(key)s (did you mean %(guess)s?)") % {"key": key, "guess": guess} if guess else key
            for key, guess in guesses.items()
        ]
        messages.append(
            Warning(
                _("%(setting)s has unknown keys: %(keys)s.")
                % {"setting": SETTING_NAME, "keys": ", ".join(named)},
                hint=_("Check the spelling against the settings reference in the documentation."),
                id="django_apiauth.W003",
            )
        )
    return messages


def token_cache_messages(*, reachability: bool, warn_if_local: bool) -> list[CheckMessage]:
    """What is wrong with the token cache (alias, backend, sharing, reachability), for the
    system checks and ``apiauth_check`` alike."""
    messages = setting_errors(Tags.caches)  # CACHE_ALIAS itself (E003)
    if messages:
        return messages
    alias = api_settings.CACHE_ALIAS
    problem = shared_cache.import_problem(alias)
    if problem is not None:
        cause, module = problem
        install = (
            'pip install "django-apiauth[redis]"' if module == "redis" else f"pip install {module}"
        )
        return [
            Error(
                _(
                    "The token cache %(alias)r cannot be used: %(cause)s. Every process would "
                    "keep its own token."
                )
                % {"alias": alias, "cause": cause},
                hint=_("Install what the backend needs (%(install)s), or use another backend.")
                % {"install": install},
                id="django_apiauth.E015",
            )
        ]
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend in LOCAL_BACKENDS:
        if warn_if_local:
            backend = backend.rsplit(".", 1)[-1]
            messages.append(
                Warning(
                    _(
                        "The token cache %(alias)r uses %(backend)s, which is private to each "
                        "process: every worker fetches its own access token."
                    )
                    % {"alias": alias, "backend": backend},
                    hint=_(
                        "Use a shared cache (Redis, Memcached, database) for "
                        "APIAUTH['CACHE_ALIAS']."
                    ),
                    id="django_apiauth.W002",
                )
            )
    elif reachability:
        failure = shared_cache.round_trip_problem(alias)
        if failure is not None:
            messages.append(
                Error(
                    _(
                        "The token cache %(alias)r cannot be reached: %(failure)s. Tokens would "
                        "be kept per process and fetched directly until it is back."
                    )
                    % {"alias": alias, "failure": failure},
                    hint=_(
                        "Check CACHES[%(alias)r] (LOCATION, credentials) and that the cache "
                        "server is running and reachable from this host."
                    )
                    % {"alias": alias},
                    id="django_apiauth.E016",
                )
            )
    return messages


@register(Tags.caches)
def check_token_cache(app_configs=None, **kwargs):
    return token_cache_messages(reachability=False, warn_if_local=not settings.DEBUG)


@register(Tags.caches, deploy=True)
def check_token_cache_reachable(app_configs=None, **kwargs):
    # Only the round trip: the rest is reported by check_token_cache.
    return [
        message
        for message in token_cache_messages(reachability=True, warn_if_local=False)
        if message.id == "django_apiauth.E016"
    ]


@register(Tags.caches)
def check_token_timing(app_configs=None, **kwargs):
    """Lease, fetch budget, refresh window and cache budget must fit together (E022-E024)."""
    try:
        margin = api_settings.validated("REFRESH_MARGIN")
        lease = api_settings.validated("LOCK_TIMEOUT")
        cache = api_settings.validated("CACHE_TIMEOUT")
        budget = fetch_budget()
    except Exception:  # reported by the setting's own check
        return []
    conflicts = [
        (
            lease >= margin,
            "django_apiauth.E022",
            _(
                "APIAUTH['LOCK_TIMEOUT'] (%(lease)gs) is not shorter than "
                "APIAUTH['REFRESH_MARGIN'] (%(margin)gs): when the process refreshing a "
                "token dies, its lease outlives the refresh window and callers wait for it."
            ),
            _("Make LOCK_TIMEOUT shorter than REFRESH_MARGIN (defaults: 10 and 60)."),
        ),
        (
            budget >= margin,
            "django_apiauth.E023",
            _(
                "A token fetch may take up to %(budget)gs ((MAX_RETRIES + 1) x the "
                "connect + read TIMEOUT), not less than APIAUTH['REFRESH_MARGIN'] "
                "(%(margin)gs): a slow refresh would end after the token, and callers wait."
            ),
            _("Lower TIMEOUT or MAX_RETRIES, or raise REFRESH_MARGIN above the fetch budget."),
        ),
        (
            6 * cache >= lease,
            "django_apiauth.E024",
            _(
                "APIAUTH['CACHE_TIMEOUT'] (%(cache)gs) is too long for "
                "APIAUTH['LOCK_TIMEOUT'] (%(lease)gs): the lease is renewed every third of "
                "its lifetime, with two cache calls each time."
            ),
            _("Keep CACHE_TIMEOUT under a sixth of LOCK_TIMEOUT (defaults: 0.25 and 10)."),
        ),
    ]
    values = {"lease": lease, "margin": margin, "budget": budget, "cache": cache}
    return [
        Error(text % values, hint=hint, id=check) for found, check, text, hint in conflicts if found
    ]


@register(Tags.caches)
def check_redis_socket_timeouts(app_configs=None, **kwargs):
    """A Redis token cache without socket timeouts lets a hung server hold threads (W010)."""
    if api_settings.problems(Tags.caches):
        return []  # the alias itself is wrong: reported by E003
    alias = api_settings.CACHE_ALIAS
    if settings.CACHES.get(alias, {}).get("BACKEND") not in REDIS_BACKENDS:
        return []
    given = {str(name).lower() for name in settings.CACHES[alias].get("OPTIONS") or {}}
    missing = [name for name in ("socket_connect_timeout", "socket_timeout") if name not in given]
    if not missing:
        return []
    return [
        Warning(
            _(
                "The token cache %(alias)r is Redis without %(missing)s in its OPTIONS: a hung "
                "or unreachable server holds a thread until the kernel gives up."
            )
            % {"alias": alias, "missing": _(" and ").join(missing)},
            hint=_(
                "Add 'OPTIONS': {'socket_connect_timeout': 1, 'socket_timeout': 1} to "
                "CACHES[%(alias)r] (django-redis: SOCKET_CONNECT_TIMEOUT / SOCKET_TIMEOUT)."
            )
            % {"alias": alias},
            id="django_apiauth.W010",
        )
    ]


@register(Tags.security, Tags.database)
def check_keys_still_in_use(app_configs=None, databases=None, **kwargs):
    """W004: stored values depend on a key other than the primary one (removing it loses them).

    A database check (``check --database default``, ``migrate``): one GROUP BY per column.
    """
    try:
        ring = build_key_ring()
    except ConfigurationError:
        return []  # reported by E001
    messages = []
    for alias in databases or []:
        try:
            counts = values_per_key(using=alias)
        except DatabaseError:
            continue  # not migrated yet
        stale = {k: n for k, n in counts.items() if k not in (ring.primary.key_id, PLAINTEXT)}
        if not stale:
            continue
        described = []
        for key_id, count in sorted(stale.items()):
            key = ring.key(key_id)
            kind = (
                _("not in the key ring")
                if key is None
                else _("derived from SECRET_KEY_FALLBACKS")
                if key.derived_from_fallback
                else _("derived from SECRET_KEY")
                if key.derived_from_secret_key
                else _("not the first key")
            )
            described.append(
                _("%(count)s under %(key_id)s (%(kind)s)")
                % {"count": count, "key_id": key_id, "kind": kind}
            )
        messages.append(
            Warning(
                _(
                    "Database %(alias)r: stored secrets still depend on keys that are not the "
                    "primary encryption key: %(keys)s."
                )
                % {"alias": alias, "keys": "; ".join(described)},
                hint=_(
                    "Run `manage.py apiauth_rotate_keys` before removing any key, "
                    "SECRET_KEY or SECRET_KEY_FALLBACKS entry."
                ),
                id="django_apiauth.W004",
            )
        )
    return messages


@register(Tags.security, Tags.database)
def check_unbound_secrets(app_configs=None, databases=None, **kwargs):
    """W011: secrets unbound since the 0005 migration (refused on read); decrypts them all."""
    messages = []
    for alias in databases or []:
        unbound = []
        try:
            for row in ApiCredential.objects.using(alias).iterator():
                for name in ApiCredential.secret_field_names():
                    value = row.__dict__.get(name)
                    with contextlib.suppress(ApiAuthError):
                        getattr(row, name)  # sets value.legacy
                    if isinstance(value, Ciphertext) and value.legacy:
                        unbound.append(f"pk={row.pk} {name}")
        except (DatabaseError, ConfigurationError):
            continue  # not migrated yet, or no key ring (E001)
        if unbound:
            messages.append(
                Warning(
                    _(
                        "Database %(alias)r: %(count)s credential secrets are not bound to their "
                        "row and endpoint and are refused: %(values)s."
                    )
                    % {"alias": alias, "count": len(unbound), "values": ", ".join(unbound[:10])},
                    hint=_(
                        "If you restored them yourself from an old backup, run `manage.py "
                        "apiauth_rotate_keys` to bind them; otherwise enter those secrets again."
                    ),
                    id="django_apiauth.W011",
                )
            )
    return messages
