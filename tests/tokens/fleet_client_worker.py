"""Another process of the fleet, for the stamp test: answers ``get`` with what get_client sees.

Run as ``python -m tests.tokens.fleet_client_worker`` with ``WORKER_DATABASE`` (the
test database's name), ``WORKER_REDIS_URL`` and ``WORKER_REDIS_PREFIX`` (the
test's own key prefix) in the environment; each line ``get``
on stdin prints the ``merchant_uid`` of ``get_client("shop")``, or ``not found``.
"""

import os
import sys

import django
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
settings.DATABASES["default"]["NAME"] = os.environ["WORKER_DATABASE"]
settings.CACHES["default"] = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": os.environ["WORKER_REDIS_URL"],
    "KEY_PREFIX": os.environ["WORKER_REDIS_PREFIX"],
}
django.setup()

from django_apiauth.client import get_client  # noqa: E402
from django_apiauth.exceptions import CredentialNotFound  # noqa: E402

for line in sys.stdin:
    if line.strip() != "get":
        continue
    try:
        answer = get_client("shop").credential.merchant_uid
    except CredentialNotFound:
        answer = "not found"
    print(answer, flush=True)
