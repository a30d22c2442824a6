"""R-AUD-5, R-TRN-3: reporting medicines incidents; naming a member of staff suspends their
competency, so the training gate then stops them; incidents feed the audit."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from audits import services
from audits.models import Incident, previous_month
from emar.models import Notification
from tests.training.factories import qualify
from training.services import check_administration


def report(home, by, **kw):
    fields = {
        "kind": "error",
        "stage": "administering",
        "type": "wrong_dose",
        "harm": "low",
        "occurred_at": timezone.now() - dt.timedelta(hours=1),
        "description": "Two tablets given instead of one",
        "immediate_action": "GP called; observed",
    }
    fields.update(kw)
    return services.incident_report(home=home, by=by, **fields)


def test_naming_a_carer_suspends_their_competency_so_they_are_gated(home_a, carer_a, senior_a):
    qualify(carer_a, home_a)
    assert check_administration(person=carer_a, home=home_a, category="oral") is None
    incident = report(home_a, senior_a, staff=[carer_a], suspend=["oral"])
    assert incident.reference.startswith("INC-") and incident.suspended_categories == ["oral"]
    refusal = check_administration(person=carer_a, home=home_a, category="oral")
    assert refusal is not None
    assert check_administration(person=carer_a, home=home_a, category="topical") is None


def test_a_near_miss_cannot_claim_harm(home_a, senior_a):
    with pytest.raises(services.AuditError) as e:
        report(home_a, senior_a, kind="near_miss", harm="moderate")
    assert e.value.code == "near_miss_harm"


def test_harm_or_abuse_prompts_candour_and_cqc_and_tells_the_manager_urgently(
    home_a, senior_a, manager_a
):
    moderate = report(home_a, senior_a, harm="moderate")
    assert moderate.candour_applies and not moderate.cqc_notification_due
    abuse = report(home_a, senior_a, harm="low", abuse_suspected=True)
    assert abuse.cqc_notification_due and not abuse.candour_applies
    severe = report(home_a, senior_a, harm="severe")
    assert severe.candour_applies and severe.cqc_notification_due
    assert (
        Notification.objects.filter(recipient=manager_a, kind="incident", urgent=True).count() == 3
    )


def test_a_carer_reports_through_the_form(client, home_a, carer_a, senior_a):
    client.force_login(carer_a)
    url = reverse("incident_new", args=[home_a.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "kind": "error",
            "stage": "administering",
            "type": "wrong_time",
            "harm": "none",
            "occurred_at": "2026-01-05T10:00",
            "description": "Late insulin",
            "immediate_action": "BM checked",
            "staff": [senior_a.pk],
            "suspend": ["injection"],
        },
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert list(incident.staff.all()) == [senior_a]
    assert check_administration(person=senior_a, home=home_a, category="injection") is not None


def test_a_new_incident_suspends_no_competency_until_one_is_chosen(client, home_a, carer_a):
    """Nothing is pre-ticked: an eye-drop incident must not also suspend oral competency."""
    client.force_login(carer_a)
    body = client.get(reverse("incident_new", args=[home_a.pk])).content.decode()
    boxes = re.findall(r'<input[^>]*name="suspend"[^>]*>', body)
    assert len(boxes) >= 2
    assert not [b for b in boxes if "checked" in b]


def test_bad_input_is_a_400_and_nothing_is_written(client, home_a, carer_a):
    client.force_login(carer_a)
    response = client.post(reverse("incident_new", args=[home_a.pk]), {"kind": "oops"})
    assert response.status_code == 400 and not Incident.objects.exists()


def test_an_inspector_cannot_report_or_follow_up(client, home_a, inspector_a, senior_a):
    incident = report(home_a, senior_a)
    client.force_login(inspector_a)
    assert client.post(reverse("incident_new", args=[home_a.pk]), {}).status_code == 403
    assert client.post(reverse("incident_follow_up", args=[incident.pk]), {}).status_code == 403
    assert client.get(reverse("incident_detail", args=[incident.pk])).status_code == 200


def test_incidents_of_the_month_appear_in_the_audit(home_a, senior_a, manager_a):
    month = previous_month(home_a.local_today())
    at = dt.datetime.combine(month + dt.timedelta(days=3), dt.time(9), tzinfo=home_a.tz)
    report(home_a, senior_a, occurred_at=at)
    report(home_a, senior_a, occurred_at=at, kind="near_miss", harm="none")
    audit = services.audit_prepare(home=home_a, month=month, by=manager_a)
    assert audit.metrics["incidents"]["total"] == 2
    assert audit.metrics["incidents"]["near_misses"] == 1
    assert audit.metrics["incidents"]["list"][0]["type_label"] == "Wrong dose or strength"


def test_outsider_gets_404(client, home_a, senior_a, carer_b):
    incident = report(home_a, senior_a)
    client.force_login(carer_b)
    assert client.get(reverse("incident_detail", args=[incident.pk])).status_code == 404
    assert client.get(reverse("incident_new", args=[home_a.pk])).status_code == 404


def test_incident_alert_skips_a_deactivated_manager_and_an_ended_role(home_a, senior_a, manager_a):
    """R-AUD-5, R-ORG-2: only managers whose account and role are in force are told."""
    from tests.factories import staff

    gone = staff(home_a, "manager", username="left_a")
    gone.memberships.update(active=False)
    off = staff(home_a, "manager", username="off_a", is_active=False)
    report(home_a, senior_a)
    told = Notification.objects.filter(kind="incident").values_list("recipient", flat=True)
    assert set(told) == {manager_a.pk}
    assert gone.pk not in set(told) and off.pk not in set(told)
