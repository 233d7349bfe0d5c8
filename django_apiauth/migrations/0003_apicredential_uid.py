"""Give every credential a UUID (``uid``), the row identity its secrets are bound to.

A UUID rather than the primary key because it travels with ``dumpdata`` and
``loaddata``: a backup restored into another database (new primary keys) still
decrypts. Added in three steps, as a unique column with a per-row default must
be: nullable, filled row by row, then unique and required.

Existing secrets stay readable as they are (unbound ``v1:`` values); saving a
credential or running ``manage.py apiauth_rotate_keys`` binds them.
"""

import uuid

from django.db import migrations, models


def fill_uids(apps, schema_editor):
    ApiCredential = apps.get_model("django_apiauth", "ApiCredential")
    db = schema_editor.connection.alias
    for pk in (
        ApiCredential._base_manager.using(db).filter(uid__isnull=True).values_list("pk", flat=True)
    ):
        ApiCredential._base_manager.using(db).filter(pk=pk).update(uid=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("django_apiauth", "0002_notificationdelivery"),
    ]

    operations = [
        migrations.AddField(
            model_name="apicredential",
            name="uid",
            field=models.UUIDField(editable=False, null=True, verbose_name="UID"),
        ),
        migrations.RunPython(fill_uids, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="apicredential",
            name="uid",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, unique=True, verbose_name="UID"
            ),
        ),
    ]
