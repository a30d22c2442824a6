"""The Django admin opens for a superuser and keeps clinical records read-only: no clinical
record can be added, changed or deleted there (corrections are new entries through the
services)."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from tests.factories import UserFactory

# Every model of the project registered in the admin is one of these two kinds.
CLINICAL = {
    "emar.AuditEvent",
    "residents.Resident",
    "residents.ResidentDocument",
    "medications.PrescriptionLine",
    "medications.Administration",
    "medications.ScheduledDose",
    "medications.StockMovement",
    "medications.LineSite",
    "medications.AppliedSite",
    "medications.OfflineDiscard",
    "medications.OpenedSupply",
    "medications.OpenedSupplyEnd",
    "medications.ProductBarcode",
    "medications.DoseScan",
    "medications.MedicineOrder",
    "medications.DeliveryDiscrepancy",
    "training.TrainingRecord",
    "training.CompetencyAssessment",
    "training.CompetencySuspension",
    "training.MedicinesPolicy",
    "training.PolicyConfirmation",
    "audits.Audit",
    "audits.Incident",
    "audits.AccessLog",
}
# Reference data and accounts the provider keeps in the admin.
EDITABLE = {
    "emar.User",
    "emar.CareHome",
    "emar.Provider",
    "emar.Membership",
    "medications.Medicine",
    "medications.HomelyRemedy",
    "training.Course",
    "audits.ChecklistQuestion",
}
PROJECT_APPS = {"emar", "residents", "medications", "training", "audits", "fhir_api"}


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _registered() -> dict[str, admin.ModelAdmin]:
    return {
        model._meta.label: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PROJECT_APPS
    }


def test_every_registered_model_is_classified():
    assert set(_registered()) == CLINICAL | EDITABLE


@pytest.mark.parametrize(
    "model",
    ["administration", "scheduleddose", "stockmovement", "homelyremedy", "medicine"],
)
def test_admin_lists_open(client, root, model):
    client.force_login(root)
    assert client.get(reverse(f"admin:medications_{model}_changelist")).status_code == 200


@pytest.mark.parametrize("label", sorted(CLINICAL))
def test_clinical_records_cannot_be_added_changed_or_deleted(client, root, label):
    model_admin = _registered()[label]
    request = RequestFactory().get("/admin/")
    request.user = root
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)
    # And over HTTP: the add page is refused, the list opens without an "Add" button.
    client.force_login(root)
    app, name = label.lower().split(".")
    assert client.get(reverse(f"admin:{app}_{name}_add")).status_code == 403
    listing = client.get(reverse(f"admin:{app}_{name}_changelist"))
    assert listing.status_code == 200
    assert reverse(f"admin:{app}_{name}_add") not in listing.content.decode()


def test_a_recorded_incident_cannot_be_deleted_or_edited_in_the_admin(client, root, home_a):
    from audits.models import Incident
    from tests.audits.test_incidents import report
    from tests.factories import staff

    incident = report(home_a, staff(home_a, "senior", username="s"))
    client.force_login(root)
    delete = reverse("admin:audits_incident_delete", args=[incident.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:audits_incident_change", args=[incident.pk])
    client.post(change, {"reference": "EDITED"})
    assert Incident.objects.get(pk=incident.pk).reference == incident.reference
