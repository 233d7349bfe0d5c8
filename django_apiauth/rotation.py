"""Re-encrypt every ``EncryptedTextField`` value under the ring's primary key.

Used by ``manage.py apiauth_rotate_keys``: one batch per transaction in
primary-key order, so an interrupted run keeps its finished batches and a re-run
skips what is done. Plaintext legacy values are encrypted, values no key
decrypts are listed and left as they are, and bound values written before
binding existed are bound on the way (``docs/credentials.md``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction
from django.db.models import Count, ExpressionWrapper, F
from django.db.models.functions import Substr

from django_apiauth import crypto
from django_apiauth.bulk_write import update_rows
from django_apiauth.exceptions import ApiAuthError, DecryptionError
from django_apiauth.fields import EncryptedTextField, Sealed

__all__ = ["PLAINTEXT", "rotate_keys", "values_per_key"]

PLAINTEXT = "plaintext"


@dataclass(frozen=True)
class UndecryptableValue:
    label: str  # "app_label.Model"
    pk: object
    field: str
    reason: str


@dataclass
class RotationReport:
    primary_key_id: str
    dry_run: bool
    #: values found per key id (or ``"plaintext"``), before rotation
    by_key: Counter = field(default_factory=Counter)
    rotated: int = 0
    #: legacy values of bound fields, already under the primary key, now bound
    bound: int = 0
    encrypted_plaintext: int = 0
    rows_updated: int = 0
    undecryptable: list[UndecryptableValue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.undecryptable


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[EncryptedTextField]]]:
    """Every concrete model with its encrypted fields."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        # Local fields only: with multi-table inheritance a parent's fields are
        # rotated (and counted) once, with the parent's rows, child rows included.
        found = [f for f in model._meta.local_concrete_fields if isinstance(f, EncryptedTextField)]
        if found:
            yield model, found


def values_per_key(using: str = "default") -> Counter:
    """How many stored values each key id encrypts, over every encrypted column.

    One ``GROUP BY`` query per column on the key-id part of the prefix
    (``v1:<key id>:``): no decryption. Empty and NULL values are not counted;
    values without the prefix count under ``"plaintext"``.
    """
    counts: Counter = Counter()
    for model, fields in encrypted_fields():
        for fld in fields:
            rows = (
                model._base_manager.using(using)
                .annotate(raw=_raw(fld))
                .exclude(raw__isnull=True)
                .exclude(raw="")
                .annotate(
                    prefix=Substr("raw", 1, len(crypto.PREFIX)),
                    key_id=Substr("raw", len(crypto.PREFIX) + 1, 8),
                )
                .values("prefix", "key_id")
                .annotate(n=Count("pk"))
                .order_by()
            )
            for row in rows:
                key = row["key_id"] if row["prefix"] == crypto.PREFIX else PLAINTEXT
                counts[key] += row["n"]
    return counts


def _raw(fld: EncryptedTextField) -> ExpressionWrapper:
    # Reading through a plain TextField output skips from_db_value, so we see
    # the stored text (ciphertext, plaintext legacy value or garbage) as it is.
    return ExpressionWrapper(F(fld.attname), output_field=models.TextField())


def rotate_keys(
    *, dry_run: bool = False, batch_size: int = 500, using: str = "default"
) -> RotationReport:
    """Re-encrypt all encrypted values under the primary key; see the module docstring."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ring = crypto.get_key_ring()
    report = RotationReport(primary_key_id=ring.primary.key_id, dry_run=dry_run)
    for model, fields in encrypted_fields():
        last_pk, full = None, True
        while full:  # a short batch is the last
            with transaction.atomic(using=using):
                batch = _rotate_batch(ring, model, fields, last_pk, batch_size, using, report)
            full = len(batch) == batch_size
            last_pk = batch[-1] if batch else None
    return report


def _rotate_batch(ring, model, fields, last_pk, batch_size, using, report) -> list:
    # The base manager: a default manager may hide rows (soft deletes, say), and
    # a row left under a retired key is lost once that key leaves the ring.
    queryset = model._base_manager.using(using).order_by("pk")
    if last_pk is not None:
        queryset = queryset.filter(pk__gt=last_pk)
    if not report.dry_run:
        # Row locks (where the database has them) keep a concurrent admin edit
        # from being overwritten with the value read here.
        queryset = queryset.select_for_update()
    # Instances, encrypted columns read raw: a bound field's binding is computed
    # from the row's other columns, only those a model's ``binding_fields`` names.
    needed = getattr(model, "binding_fields", None)
    queryset = queryset.only(*needed) if needed else queryset.defer(*(f.attname for f in fields))
    queryset = queryset.annotate(**{f"raw_{f.attname}": _raw(f) for f in fields})
    rows = list(queryset[:batch_size])
    changed = []
    for row in rows:
        new_values = {}
        dirty = False
        bindings: dict[str | None, str | ApiAuthError | None] = {}  # one per row and bind_to
        for fld in fields:
            stored = getattr(row, f"raw_{fld.attname}")
            new_values[fld.attname] = Sealed(stored) if stored is not None else None
            if not stored:
                continue
            if fld.bind_to not in bindings:
                try:
                    bindings[fld.bind_to] = fld.binding(row)
                except ApiAuthError as err:
                    bindings[fld.bind_to] = err
            result = _rotate_value(ring, fld, stored, bindings[fld.bind_to], report)
            if isinstance(result, str):
                new_values[fld.attname] = Sealed(result)
                dirty = True
            elif result is not None:
                report.undecryptable.append(
                    UndecryptableValue(model._meta.label, row.pk, fld.name, str(result))
                )
        if dirty:
            changed.append((row.pk, *(new_values[f.attname] for f in fields)))
    if changed and not report.dry_run:
        # Not bulk_update: its CASE WHEN per column was most of the run's time.
        update_rows(model, [f.attname for f in fields], changed, using=using, batch_size=batch_size)
        report.rows_updated += len(changed)
    return [row.pk for row in rows]


def _rotate_value(ring, fld, stored: str, binding, report: RotationReport):
    """The new stored text, ``None`` if already current, or the error (the binding's, too).

    A dry run returns ``stored`` itself for what it would change: it decrypts
    (to report what no key opens) but never pays for encrypting again.
    """
    if isinstance(binding, ApiAuthError):
        return binding
    if not crypto.looks_encrypted(stored):
        report.by_key[PLAINTEXT] += 1
        report.encrypted_plaintext += 1
        return stored if report.dry_run else ring.encrypt(stored, fld.context, binding)
    try:
        key_id, _ = crypto.parse(stored)
    except DecryptionError as err:
        report.by_key["malformed"] += 1
        return err
    report.by_key[key_id] += 1
    current = key_id == ring.primary.key_id
    try:
        # Decrypting proves it readable; a value under the primary key moves only if legacy.
        legacy = (current or report.dry_run) and ring.open(stored, fld.context, binding)[1]
        if current and not legacy:
            return None
        rotated = stored if report.dry_run else ring.rotate(stored, fld.context, binding)
    except DecryptionError as err:
        return err
    if current:
        report.bound += 1
    else:
        report.rotated += 1
    return rotated
