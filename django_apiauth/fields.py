"""``EncryptedTextField``: a text column stored encrypted with the key ring.

A field may be *bound* (``bind_to="method_name"``): its values then only decrypt for the
binding text the model computes for each row (``ApiCredential``: its UUID and endpoint),
checked on every read ("Storage and encryption" in ``docs/architecture.md``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.utils.translation import gettext_lazy as _

from django_apiauth import crypto
from django_apiauth.exceptions import ApiAuthError, DecryptionError, SecretsNotReenteredError

__all__ = ["Ciphertext", "EncryptedTextField", "Sealed"]


class Sealed:
    """An already-encrypted value: saved to the column as it is, never re-encrypted.

    Key rotation writes its re-encrypted values through this.
    """

    __slots__ = ("stored",)

    def __init__(self, stored: str) -> None:
        self.stored = stored

    def __repr__(self) -> str:
        # The stored text is ciphertext, but there is no reason to print it either.
        return f"<{type(self).__name__}>"


class Undecryptable(Sealed):
    """What a column holds after loading when no key decrypts it.

    One bad row never breaks a queryset: the error is raised when the value is used,
    and saving the row writes the stored text back untouched.
    """

    __slots__ = ("error",)

    def __init__(self, stored: str, error: DecryptionError) -> None:
        super().__init__(stored)
        self.error = error


class Ciphertext(Sealed):
    """A loaded value of a bound field: decrypted on each access, for the row's current binding.

    The plaintext is not kept: a credential held for the life of the process (the clients'
    cache) holds its secrets sealed, and one is opened only when it is used (a token fetch,
    a signature; ~15 µs). Pickling (and copying) keeps only the stored text.
    """

    __slots__ = ("legacy",)

    def __init__(self, stored: str) -> None:
        super().__init__(stored)
        #: Decrypts with the column's key alone: unbound, refused on read (see reveal).
        self.legacy = False

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.stored,))

    def reveal(self, field: EncryptedTextField, binding: str) -> BoundPlaintext:
        """The plaintext for ``binding``; ``DecryptionError`` if it was bound to another."""
        plain, self.legacy = crypto.get_key_ring().open(self.stored, field.context, binding)
        if self.legacy:
            # The binding migration and rotation bound every row: an unbound value
            # is one put back since (an old backup, by SQL), in this row or another.
            raise DecryptionError(
                "value is not bound to its row and endpoint (written before binding, "
                "or put back since); enter it again, or run manage.py "
                "apiauth_rotate_keys to bind it if you restored it yourself"
            )
        return BoundPlaintext(plain, self.stored)


class BoundPlaintext(str):
    """A bound field's decrypted value (what reading the attribute returns), with its ciphertext.

    Saves without ``pre_save`` (``loaddata``, ``bulk_update``) write ``sealed`` back, and
    assigning it again does not count as re-entering it.
    """

    sealed: str

    def __new__(cls, plain: str, sealed: str) -> BoundPlaintext:
        value = super().__new__(cls, plain)
        value.sealed = sealed
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled on its own (not through a model), it is the secret: keep it sealed.
        return (Ciphertext, (self.sealed,))


class EncryptedAttribute(DeferredAttribute):
    """Raises a ``DecryptionError`` naming model, field and pk on access to a bad value.

    A data descriptor (``__set__``), unlike Django's ``DeferredAttribute``: it must see
    every read, as a bound value is checked against the row's binding on each one.
    """

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        value = super().__get__(instance, cls)
        if instance is None:
            return value
        field = self.field
        if isinstance(value, BoundPlaintext) and field.bind_to:
            # Read from another instance (refresh_from_db, full_clean): check it here too.
            value = instance.__dict__[field.attname] = Ciphertext(value.sealed)
        if isinstance(value, Ciphertext):
            try:
                return value.reveal(field, field.binding(instance))
            except DecryptionError as err:
                value = Undecryptable(value.stored, err)
        if not isinstance(value, Undecryptable):
            return value
        label = f"{field.model._meta.label}.{field.name} of pk={instance.pk}"
        raise DecryptionError(f"{label}: {value.error}") from value.error


class EncryptedTextField(models.TextField):
    """Text encrypted at rest (Fernet, per-column sub-key, key rotation).

    ``None`` stays NULL and ``""`` stays empty; everything else is stored as
    ``v1:<key id>:<token>``. Only the ``isnull`` lookup is allowed: ciphertexts are
    randomised, so equality or containment can never match.

    ``bind_to`` names a model method returning the row's binding text: values then only
    decrypt for that same binding (the binding goes into the sub-key, not the stored
    format). Bound values cannot be written by ``QuerySet.update()``: assign and ``save()``.
    """

    descriptor_class = EncryptedAttribute

    def __init__(self, *args: Any, bind_to: str | None = None, **kwargs: Any) -> None:
        # Not deconstructed: historical (migration) models have no methods to call.
        self.bind_to = bind_to
        super().__init__(*args, **kwargs)

    @property
    def context(self) -> str:
        """The column identity mixed into the sub-key: ``app_label.model.field``."""
        return f"{self.model._meta.label_lower}.{self.name}"

    def binding(self, model_instance: models.Model) -> str | None:
        """The instance's binding text (``None`` for an unbound field)."""
        return getattr(model_instance, self.bind_to)() if self.bind_to else None

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self.model._meta.label}.{self.name} is encrypted; only the 'isnull' lookup "
            f"is supported, not {lookup_name!r}"
        )

    def get_transform(self, lookup_name: str) -> Any:
        # Called for every unknown lookup name before get_lookup; "isnull" must pass.
        if lookup_name == "isnull":
            return None
        raise FieldError(
            f"{self.model._meta.label}.{self.name} is encrypted and supports no transforms "
            f"({lookup_name!r})"
        )

    def seal(self, model_instance: models.Model, value: Any) -> Any:
        """``value`` (an instance's slot) as it is written: ``Sealed`` ciphertext, or empty."""
        if isinstance(value, Sealed) or value is None or value == "":
            return value
        if isinstance(value, BoundPlaintext):
            return Ciphertext(value.sealed)
        self._refuse_bytes(value)
        binding = self.binding(model_instance)
        return Sealed(crypto.encrypt(str(value), context=self.context, binding=binding))

    def must_be_reentered(self, model_instance: models.Model) -> bool:
        """Whether the stored value may not be saved for the instance's current binding."""
        if not self.bind_to:
            return False
        value = self._stored_slot(model_instance)
        if isinstance(value, BoundPlaintext):
            value = Ciphertext(value.sealed)
        if not isinstance(value, Ciphertext):
            return False  # newly typed (or empty): it will be encrypted for this binding
        try:
            value.reveal(self, self.binding(model_instance))
        except DecryptionError:
            # Unreadable because its key left the ring, or unbound (refused on every
            # read): writing it back unchanged is harmless and loses nothing.
            if value.legacy:
                return False
            try:
                return crypto.get_key_ring().key(crypto.parse(value.stored)[0]) is not None
            except DecryptionError:  # not even a ciphertext of ours
                return True
        return False

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # Encrypted here, not in get_prep_value: a bound value needs its row, and
        # the plaintext never reaches the locals of Django's SQL compiler frames
        # (which error reports show). No local of this frame holds it either.
        if self.must_be_reentered(model_instance):
            raise SecretsNotReenteredError(
                f"{self.model._meta.label}.{self.name} of pk={model_instance.pk} was entered "
                "for another endpoint; set it again before saving",
                fields=(self.name,),
            )
        # What can fail for configuration reasons (the key ring, the row's
        # binding) fails here, before a plaintext is any frame's local variable.
        crypto.get_key_ring()
        self.binding(model_instance)
        # An unbound value is written back as it is: binding it here would launder
        # a value put back by SQL through any later save (rotation binds on purpose).
        return self.seal(model_instance, self._stored_slot(model_instance))

    def _stored_slot(self, model_instance: models.Model) -> Any:
        """The instance's own slot: plaintext, ``Sealed`` or ``Undecryptable``.

        Not through the descriptor, which raises for an undecryptable value that must be
        written as it is. A deferred field is loaded first (not by ``refresh_from_db()``,
        which reads through the descriptor), or it would be saved as NULL.
        """
        if self.attname not in model_instance.__dict__ and not model_instance._state.adding:
            loaded = (
                type(model_instance)
                ._base_manager.db_manager(model_instance._state.db)
                .only(self.attname)
                .get(pk=model_instance.pk)
            )
            model_instance.__dict__[self.attname] = loaded.__dict__[self.attname]
        return model_instance.__dict__.get(self.attname)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, BoundPlaintext):
            return value.sealed
        if isinstance(value, Sealed):
            return value.stored
        if value is None or value == "":
            return value
        self._refuse_bytes(value)
        if self.bind_to:
            raise FieldError(
                f"{self.model._meta.label}.{self.name} is bound to its row and endpoint: assign "
                "it on an instance and call save() (QuerySet.update() cannot encrypt it)"
            )
        return crypto.encrypt(str(value), context=self.context)

    def value_from_object(self, obj: models.Model) -> Any:
        # What serializers (dumpdata, fixtures) and model_to_dict see: the
        # ciphertext, never the secret, so a dump or a backup is encrypted too.
        return self.get_prep_value(self.seal(obj, self._stored_slot(obj)))

    value_to_string = value_from_object

    def to_python(self, value: Any) -> Any:
        # The way back from a fixture (loaddata) or a form built from
        # value_from_object: a ciphertext of this column becomes its plaintext
        # (a bound one stays sealed until read: it needs its row to decrypt).
        if isinstance(value, Sealed):
            return value
        value = super().to_python(value)
        if not isinstance(value, str) or not crypto.looks_encrypted(value):
            return value
        value = self.from_db_value(value, None, None)
        if isinstance(value, Undecryptable):
            # Never store it as if it were the secret: that would be silent garbage.
            raise self._undecryptable(
                _(
                    "%(field)s: the value is a ciphertext that the current key ring cannot "
                    "decrypt for this column (%(error)s)"
                ),
                value.error,
            ) from value.error
        return value

    def clean(self, value: Any, model_instance: models.Model | None) -> Any:
        value = super().clean(value, model_instance)
        if isinstance(value, Ciphertext) and model_instance is not None:
            # A bound ciphertext can only be checked against its row: do it here.
            try:
                return value.reveal(self, self.binding(model_instance))
            except ApiAuthError as err:
                raise self._undecryptable(
                    _(
                        "%(field)s: the value is a ciphertext that does not decrypt for this "
                        "row and endpoint (%(error)s)"
                    ),
                    err,
                ) from err
        return value

    def _undecryptable(self, message: str, error: Exception) -> ValidationError:
        label = f"{self.model._meta.label}.{self.name}"
        return ValidationError(
            message, code="undecryptable", params={"field": label, "error": error}
        )

    def _refuse_bytes(self, value: Any) -> None:
        if isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"{self.model._meta.label}.{self.name} takes text, not bytes; decode it first"
            )

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        if self.bind_to:
            return Ciphertext(value)
        try:
            return crypto.decrypt(value, context=self.context)
        except DecryptionError as err:
            return Undecryptable(value, err)
