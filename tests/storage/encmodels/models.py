"""A user's models with encrypted fields: a filtering default manager, multi-table inheritance."""

from django.db import models

from django_apiauth.fields import EncryptedTextField


class LiveManager(models.Manager):
    """Hides archived rows, as soft-delete managers do."""

    def get_queryset(self):
        return super().get_queryset().filter(archived=False)


class Vault(models.Model):
    name = models.CharField(max_length=32)
    archived = models.BooleanField(default=False)
    secret = EncryptedTextField(blank=True, default="")

    objects = LiveManager()

    def __str__(self):
        return self.name


class ChildVault(Vault):
    token = EncryptedTextField(blank=True, default="")
