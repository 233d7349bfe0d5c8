"""A client kept for the life of the process holds its credential's secrets sealed.

``get_client`` keeps a client per credential per process (thousands on a marketplace):
its secrets stay ciphertext in memory and are opened only for the moment they are used
(a token fetch, a Basic-auth call, a signature), which also keeps its memory small.
"""

from __future__ import annotations

import gc
import types

import pytest

from django_apiauth.client import get_client

pytestmark = pytest.mark.django_db

SIGNATURE_SECRET = "sig_kept_sealed_Wq8Ze3Rt6_Lm4Pk9Xv2Hb7"

#: Not followed: they lead to every module's globals, not to what the client holds.
OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


def strings_held_by(root: object) -> set[str]:
    seen: set[int] = set()
    stack, found = [root], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, OPAQUE):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            found.add(str(obj))
            continue
        stack.extend(gc.get_referents(obj))
    return found


@pytest.fixture
def vault(fake_provider):
    return fake_provider.create_credential(name="vault", signature_secret=SIGNATURE_SECRET)


def test_a_cached_client_holds_no_secret_in_clear_after_using_them(fake_provider, vault):
    client = get_client("vault")
    assert client.get("/api/merchant").status_code == 200  # a token fetch: key and secret
    client.sign({"reference": "order-1"})  # the signature secret
    account = fake_provider.account

    held = strings_held_by(get_client("vault"))

    clear = {account.api_key, account.api_secret, account.dashboard_password, SIGNATURE_SECRET}
    assert clear & held == set()
    assert any(value.startswith("v1:") for value in held), "the walk reaches the sealed values"
    # Opened again when needed: the next read decrypts.
    assert get_client("vault").credential.api_secret == account.api_secret
