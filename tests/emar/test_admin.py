"""The Django admin opens for a superuser and keeps clinical records read-only."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory


@pytest.mark.parametrize(
    "model",
    ["administration", "scheduleddose", "stockmovement", "homelyremedy", "medicine"],
)
def test_admin_lists_open(client, db, model):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get(reverse(f"admin:medications_{model}_changelist")).status_code == 200


def test_clinical_records_cannot_be_added_in_the_admin(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:medications_administration_add")).status_code == 403
