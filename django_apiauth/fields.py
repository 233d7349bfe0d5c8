"""``EncryptedTextField``: a text column stored encrypted with the key ring."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from . import crypto
from .exceptions import DecryptionError


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

    __str__ = __repr__


class Undecryptable(Sealed):
    """What a column holds after loading when no key decrypts it.

    Keeping the stored text (instead of raising in ``from_db_value``) means one
    bad row never breaks a queryset or a page: the error is raised when the
    value is *used*, naming the row, and saving the row writes the stored text
    back untouched, so nothing is lost.
    """

    __slots__ = ("error",)

    def __init__(self, stored: str, error: DecryptionError) -> None:
        super().__init__(stored)
        self.error = error


def _is_plaintext(value: Any) -> bool:
    return isinstance(value, str) and value != ""


class EncryptedAttribute(DeferredAttribute):
    """Raises a ``DecryptionError`` naming model, field and pk on access to a bad value.

    A data descriptor (it defines ``__set__``): Django's plain ``DeferredAttribute``
    is bypassed once the value sits in the instance ``__dict__``, and this one
    must see every read.
    """

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        value = super().__get__(instance, cls)
        if isinstance(value, Undecryptable):
            field = self.field
            raise DecryptionError(
                f"{field.model._meta.label}.{field.name} of pk={instance.pk}: {value.error}"
            ) from value.error
        return value


class EncryptedTextField(models.TextField):
    """Text encrypted at rest (Fernet, per-column sub-key, key rotation).

    ``None`` stays NULL and ``""`` stays empty; everything else is encrypted.
    Only the ``isnull`` lookup is allowed: ciphertexts are randomised, so
    equality or containment on the column can never match.
    """

    descriptor_class = EncryptedAttribute

    @property
    def context(self) -> str:
        """The column identity mixed into the sub-key: ``app_label.model.field``."""
        return f"{self.model._meta.label_lower}.{self.name}"

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

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        if _is_plaintext(self._stored_slot(model_instance)):
            # Encrypted here, not in get_prep_value: what pre_save returns sits in
            # the variables of Django's save and SQL frames (``_save_table``'s
            # ``values``), which error reports (HTML e-mails, Sentry) show when the
            # database fails (a lock timeout, say). A misconfigured key ring fails
            # first. No local of this frame holds the plaintext either.
            crypto.get_key_ring()
            return Sealed(self.get_prep_value(self._stored_slot(model_instance)))
        return self._stored_slot(model_instance)

    def _stored_slot(self, model_instance: models.Model) -> Any:
        """The instance's own slot: plaintext, ``Sealed`` or ``Undecryptable``.

        Read directly, not through the descriptor, which raises for an
        undecryptable value that must be written or dumped as it is. A deferred
        field is loaded first, or its missing slot would be saved as NULL.
        """
        if self.attname not in model_instance.__dict__ and not model_instance._state.adding:
            self._load_deferred(model_instance)
        return model_instance.__dict__.get(self.attname)

    def _load_deferred(self, model_instance: models.Model) -> None:
        # Not refresh_from_db(): it reads through the descriptor, which raises
        # for an undecryptable value instead of keeping it.
        loaded = (
            type(model_instance)
            ._base_manager.db_manager(model_instance._state.db)
            .only(self.attname)
            .get(pk=model_instance.pk)
        )
        model_instance.__dict__[self.attname] = loaded.__dict__[self.attname]

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Sealed):
            return value.stored
        if value is None or value == "":
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"{self.model._meta.label}.{self.name} takes text, not bytes; decode it first"
            )
        return crypto.encrypt(str(value), context=self.context)

    def value_from_object(self, obj: models.Model) -> Any:
        # What serializers (dumpdata, fixtures) and model_to_dict see: the
        # ciphertext, never the secret, so a dump or a backup is encrypted too.
        return self.get_prep_value(self._stored_slot(obj))

    def value_to_string(self, obj: models.Model) -> Any:
        return self.value_from_object(obj)

    def to_python(self, value: Any) -> Any:
        # The way back from a fixture (loaddata) or a form built from
        # value_from_object: a ciphertext of this column becomes its plaintext.
        value = super().to_python(value)
        if not isinstance(value, str) or not crypto.looks_encrypted(value):
            return value
        try:
            return crypto.decrypt(value, context=self.context)
        except DecryptionError as err:
            # Never store it as if it were the secret: that would be silent garbage.
            raise ValidationError(
                f"{self.model._meta.label}.{self.name}: the value is a ciphertext that the "
                f"current key ring cannot decrypt for this column ({err})",
                code="undecryptable",
            ) from err

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        try:
            return crypto.decrypt(value, context=self.context)
        except DecryptionError as err:
            return Undecryptable(value, err)
