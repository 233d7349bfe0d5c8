"""A change-list page decrypts what it shows and nothing else (secrets decrypt lazily)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_apiauth.models import NotificationDelivery
from tests.helpers import SECRETS

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_apiauth_apicredential_changelist"


@pytest.fixture
def rows(db):
    from django_apiauth.models import ApiCredential

    return [ApiCredential.objects.create(name=f"shop-{i}", **SECRETS) for i in range(6)]


def test_the_credential_list_decrypts_only_the_api_key_of_each_row(admin_client, rows, decryptions):
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert sorted(decryptions) == ["django_apiauth.apicredential.api_key"] * len(rows)


def test_the_delivery_log_list_decrypts_no_body(admin_client, decryptions):
    for index in range(5):
        NotificationDelivery.objects.create(
            credential="shop", outcome="accepted", body=f'{{"id": "n{index}"}}'
        )
    response = admin_client.get(reverse("admin:django_apiauth_notificationdelivery_changelist"))
    assert response.status_code == 200
    assert decryptions == []
