"""Bind every secret written before binding existed to its row and endpoint.

From this release on, an unbound value of ``ApiCredential`` is refused on read
(it can only be one put back from an old backup), so the values of earlier
releases are bound here, as ``manage.py apiauth_rotate_keys`` would. Values no
key of the ring decrypts are left as they are (W004/W011 and the rotation
command report them); run ``apiauth_rotate_keys`` once the key is back.
"""

from django.db import migrations, models
from django.db.models import ExpressionWrapper, F

SECRETS = ("api_key", "api_secret", "dashboard_password", "signature_secret")


def bind_legacy_secrets(apps, schema_editor):
    from django_apiauth import crypto
    from django_apiauth.exceptions import ApiAuthError
    from django_apiauth.fields import Sealed
    from django_apiauth.models import ApiCredential as Current

    historical = apps.get_model("django_apiauth", "ApiCredential")
    db = schema_editor.connection.alias
    raw = {
        f"raw_{name}": ExpressionWrapper(F(name), output_field=models.TextField())
        for name in SECRETS
    }
    rows = historical._base_manager.using(db).values("pk", "uid", "environment", "base_url", **raw)
    ring = crypto.get_key_ring()
    for row in rows.iterator():
        # The current model's method, on an unsaved instance: nothing else is read.
        try:
            binding = Current(
                uid=row["uid"], environment=row["environment"], base_url=row["base_url"]
            ).secret_binding()
        except ApiAuthError:
            continue
        updates = {}
        for name in SECRETS:
            stored, context = row[f"raw_{name}"], f"django_apiauth.apicredential.{name}"
            if not stored or not crypto.looks_encrypted(stored):
                continue
            try:
                if ring.open(stored, context, binding)[1]:
                    updates[name] = Sealed(ring.rotate(stored, context, binding))
            except ApiAuthError:
                continue
        if updates:
            historical._base_manager.using(db).filter(pk=row["pk"]).update(**updates)


class Migration(migrations.Migration):
    dependencies = [("django_apiauth", "0004_apicredential_replace_secrets_permission")]

    operations = [
        migrations.RunPython(bind_legacy_secrets, migrations.RunPython.noop, elidable=False)
    ]
