"""The demo (R-RUN-4): last month's audit signed with its stored report; a near miss and an
incident naming carer3 (topical suspended); `carer` can still record; running twice adds nothing."""

from io import StringIO

from django.core.management import call_command

from audits.models import Audit, AuditAction, Incident
from emar.models import User
from training.services import check_administration


def test_demo_audit_is_signed_with_its_report_and_incidents(demo):
    home, month = demo
    call_command("seed_demo", stdout=StringIO())  # twice: nothing duplicated
    audit = Audit.objects.get(home=home)
    assert audit.month == month and audit.is_signed and audit.report.is_ready
    assert AuditAction.objects.filter(raised_in=audit).count() == 2
    assert AuditAction.objects.filter(raised_in=audit, status="open").count() == 1
    assert Incident.objects.filter(home=home).count() == 2
    assert audit.metrics["incidents"]["total"] == 2
    carer3, carer = User.objects.get(username="carer3"), User.objects.get(username="carer")
    assert check_administration(person=carer3, home=home, category="topical") is not None
    assert check_administration(person=carer, home=home, category="oral") is None
    assert check_administration(person=carer, home=home, category="topical") is None
