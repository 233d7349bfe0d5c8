"""The ``replace_secrets`` permission: replacing a credential's secrets is not "change".

Staff with only "change credential" could set the signature secret (and forge
notifications) or the API key and secret (and move payments to another account).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("django_apiauth", "0003_apicredential_uid"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="apicredential",
            options={
                "ordering": ["name"],
                "permissions": [
                    ("test_connectivity", "Can test connectivity of API credentials"),
                    (
                        "replace_secrets",
                        "Can replace secrets (API key, API secret, dashboard password, signature secret)",  # noqa: E501
                    ),
                ],
                "verbose_name": "API credential",
                "verbose_name_plural": "API credentials",
            },
        ),
    ]
