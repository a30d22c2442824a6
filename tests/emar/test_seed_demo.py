"""R-RUN-4: seed_demo creates the demo homes and logins, and running it twice duplicates
nothing."""

from io import StringIO

from django.apps import apps
from django.core.management import call_command

from emar import permissions
from emar.models import CareHome, Role, User
from emar.services import audit_verify


def _counts() -> dict[str, int]:
    return {
        m._meta.label: m.objects.count()
        for m in apps.get_models()
        if m._meta.app_label
        in {"emar", "residents", "medications", "training", "audits", "fhir_api"}
        and m._meta.label not in {"emar.JobHeartbeat"}
    }


def test_seed_demo_is_idempotent_and_prints_the_logins(demo_db):
    first = _counts()
    assert first["emar.CareHome"] == 2 and first["medications.Administration"] > 100
    out = StringIO()
    call_command("seed_demo", stdout=out)  # a second run over the shared demo
    assert _counts() == first
    printed = out.getvalue()
    for username in (
        "admin",
        "manager",
        "senior",
        "carer",
        "carer2",
        "inspector",
        "carer_riverside",
    ):
        assert username in printed
    assert "python manage.py api_token" in printed  # R-FHIR-4: how to try the API
    assert "/fhir/r4/MedicationRequest" in printed  # R-FHIR-5: the pharmacy's token to try
    assert audit_verify() == []


def test_demo_homes_cannot_see_each_other(db):
    call_command("seed_demo", "--password", "demo-pass-123", stdout=StringIO())
    home = CareHome.objects.get(name="Demo Care Home")
    riverside = CareHome.objects.get(name="Demo Riverside")
    carer_riverside = User.objects.get(username="carer_riverside")
    assert list(permissions.homes_for(carer_riverside)) == [riverside]
    assert permissions.role_in(User.objects.get(username="inspector"), home) == Role.INSPECTOR
    assert set(permissions.homes_for(User.objects.get(username="admin"))) == {home, riverside}
    assert User.objects.get(username="carer2").check_password("demo-pass-123")
