"""The key ring: encryption, key ids, per-context sub-keys, key sources."""

import pytest
from cryptography.fernet import Fernet

from django_apiauth import crypto
from django_apiauth.exceptions import ConfigurationError, DecryptionError


def test_round_trip_and_versioned_prefix():
    token = crypto.encrypt("hello")
    version, key_id, fernet_token = token.split(":", 2)
    assert version == "v1"
    assert key_id == crypto.get_key_ring().primary.key_id
    assert "hello" not in token
    assert crypto.decrypt(token) == "hello"


def test_encryption_is_randomised():
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_generated_key_is_a_valid_fernet_key():
    key = crypto.generate_key()
    Fernet(key)  # raises if malformed
    assert key != crypto.generate_key()


def test_other_context_does_not_decrypt():
    token = crypto.encrypt("value", context="app.model.a")
    with pytest.raises(DecryptionError, match="copied from another column"):
        crypto.decrypt(token, context="app.model.b")


def test_first_key_encrypts_and_older_keys_still_decrypt(settings, new_key):
    old_token = crypto.encrypt("old")
    old_key = settings.APIAUTH["ENCRYPTION_KEYS"][0]
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key, old_key]}
    assert crypto.decrypt(old_token) == "old"
    new_token = crypto.encrypt("new")
    assert new_token.split(":")[1] != old_token.split(":")[1]


def test_key_removed_from_ring_is_named_in_the_error(settings, new_key):
    token = crypto.encrypt("x")
    key_id = token.split(":")[1]
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    with pytest.raises(DecryptionError, match=f"key id {key_id}, which is not in the key ring"):
        crypto.decrypt(token)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-5],  # truncated
        lambda t: t[:-6] + ("A" if t[-6] != "A" else "B") + t[-5:],  # one char flipped
        lambda t: t.split(":", 2)[0] + ":" + t.split(":", 2)[1] + ":",  # token missing
        lambda t: "v1:short:" + t.split(":", 2)[2],  # malformed key id
    ],
    ids=["truncated", "tampered", "empty-token", "bad-key-id"],
)
def test_damaged_ciphertext_fails_loudly(mangle):
    with pytest.raises(DecryptionError):
        crypto.decrypt(mangle(crypto.encrypt("secret value")))


def test_plaintext_is_refused_not_returned():
    with pytest.raises(DecryptionError, match="not a django-apiauth ciphertext"):
        crypto.decrypt("i-am-plaintext")


@pytest.mark.parametrize("bad", ["not-a-key", "c2hvcnQ=", ""])
def test_malformed_configured_key_is_a_configuration_error(settings, bad):
    settings.APIAUTH = {"ENCRYPTION_KEYS": [crypto.generate_key(), bad or "x"]}
    with pytest.raises(ConfigurationError, match=r"ENCRYPTION_KEYS\[1\] is not a Fernet key") as e:
        crypto.encrypt("x")
    assert (bad or "x") not in str(e.value)


def test_keys_from_environment_variable(settings, monkeypatch, new_key):
    settings.APIAUTH = {}
    monkeypatch.setenv("APIAUTH_ENCRYPTION_KEYS", f"{new_key}, {crypto.generate_key()}")
    ring = crypto.get_key_ring()
    assert len([key for key in ring.keys if not key.derived_from_secret_key]) == 2
    assert not ring.primary.derived_from_secret_key
    assert crypto.decrypt(crypto.encrypt("env")) == "env"


def test_settings_win_over_environment(settings, monkeypatch, new_key):
    monkeypatch.setenv("APIAUTH_ENCRYPTION_KEYS", crypto.generate_key())
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    from django_apiauth.crypto import _decode_key, _key_id

    assert crypto.get_key_ring().primary.key_id == _key_id(_decode_key(new_key, 0))


def test_secret_key_derivation_survives_secret_key_rotation(settings, monkeypatch):
    monkeypatch.delenv("APIAUTH_ENCRYPTION_KEYS", raising=False)
    settings.APIAUTH = {}
    settings.SECRET_KEY = "first-secret-key"
    token = crypto.encrypt("keep me")
    assert crypto.get_key_ring().primary.derived_from_secret_key
    settings.SECRET_KEY = "second-secret-key"
    settings.SECRET_KEY_FALLBACKS = ["first-secret-key"]
    assert crypto.decrypt(token) == "keep me"
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(DecryptionError):
        crypto.decrypt(token)


def test_ring_is_cached_until_settings_change(settings, new_key):
    ring = crypto.get_key_ring()
    assert crypto.get_key_ring() is ring
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key]}
    assert crypto.get_key_ring() is not ring


def test_rotate_moves_value_to_primary_key(settings, new_key):
    token = crypto.encrypt("rotate me", context="c")
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key, settings.APIAUTH["ENCRYPTION_KEYS"][0]]}
    ring = crypto.get_key_ring()
    rotated = ring.rotate(token, "c")
    assert rotated.split(":")[1] == ring.primary.key_id
    assert ring.decrypt(rotated, "c") == "rotate me"


def test_repr_of_ring_shows_no_key_material(settings):
    ring = crypto.get_key_ring()
    key = settings.APIAUTH["ENCRYPTION_KEYS"][0]
    assert key not in repr(ring)
    import base64

    assert repr(base64.urlsafe_b64decode(key)) not in repr(ring)


def test_a_mac_depends_on_its_purpose_and_on_the_primary_key(settings):
    ring = crypto.get_key_ring()
    assert ring.mac("a", b"message") != ring.mac("b", b"message")
    assert ring.mac("a", b"message") == ring.mac("a", b"message")
    settings.APIAUTH = {**settings.APIAUTH, "ENCRYPTION_KEYS": [crypto.generate_key()]}
    assert crypto.get_key_ring().mac("a", b"message") != ring.mac("a", b"message")


def test_token_cache_keys_survive_the_move_of_their_mac_into_the_key_ring():
    # Tokens already in a shared cache keep their keys across the upgrade.
    import hashlib
    import hmac
    import json

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from django_apiauth.tokens.store import fingerprint

    raw = crypto.get_key_ring().primary.raw
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"django-apiauth:token-fingerprint"
    ).derive(raw)
    message = json.dumps(["https://x.test", "k", "s"]).encode()
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
    assert fingerprint("https://x.test", "k", "s") == expected


def _subkey_fernet(raw: bytes, info: str) -> Fernet:
    """A sub-key derived the way values were always derived: one full HKDF call."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(raw)
    return Fernet(base64.urlsafe_b64encode(derived))


@pytest.mark.parametrize(
    "binding, info",
    [
        (None, "django-apiauth:v1:app.model.col"),
        (
            "uid|https://x.test:443/api",
            "django-apiauth:v1:bound:app.model.col\x00uid|https://x.test:443/api",
        ),
    ],
)
def test_sub_keys_are_the_full_hkdf_of_the_ring_key_so_stored_values_still_decrypt(binding, info):
    ring = crypto.get_key_ring()
    independent = _subkey_fernet(ring.primary.raw, info)
    stored = f"v1:{ring.primary.key_id}:{independent.encrypt(b'secret').decode()}"

    assert ring.decrypt(stored, "app.model.col", binding) == "secret"
    written = crypto.parse(ring.encrypt("secret", "app.model.col", binding))[1]
    assert independent.decrypt(written.encode()) == b"secret"


def test_rotation_keeps_the_fernet_issue_time(settings, new_key):
    ring = crypto.get_key_ring()
    fernet = _subkey_fernet(ring.primary.raw, "django-apiauth:v1:app.model.col")
    stored = f"v1:{ring.primary.key_id}:{fernet.encrypt_at_time(b'secret', 1_700_000_000).decode()}"
    settings.APIAUTH = {"ENCRYPTION_KEYS": [new_key, *settings.APIAUTH["ENCRYPTION_KEYS"]]}
    ring = crypto.get_key_ring()

    rotated = ring.rotate(stored, "app.model.col")

    assert ring.decrypt(rotated, "app.model.col") == "secret"
    primary = _subkey_fernet(ring.primary.raw, "django-apiauth:v1:app.model.col")
    assert primary.extract_timestamp(crypto.parse(rotated)[1].encode()) == 1_700_000_000


def test_bound_sub_keys_are_derived_per_row_not_cached():
    # A bound sub-key serves one row: a cache of them churned without ever hitting.
    ring = crypto.build_key_ring()
    for row in range(50):
        stored = ring.encrypt("secret", "ctx", f"row-{row}")
        assert ring.decrypt(stored, "ctx", f"row-{row}") == "secret"
    assert ring.decrypt(ring.encrypt("plain", "ctx"), "ctx") == "plain"
    assert len(ring._fernets) == 1  # the column's own sub-key only
