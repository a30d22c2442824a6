"""The other medicines alerts of R-ALR-3: PRN effectiveness follow-ups (R-MAR-8), covert-plan
and PRN-protocol reviews (R-RX-8, R-RX-6) and medication reviews overdue (R-RES-4)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import time_machine

from emar.models import Notification
from medications import services
from medications.models import Administration, Outcome, PrnFollowUp
from medications.reminders import (
    daily_alerts_send,
    medication_review_alerts_send,
    prn_follow_up_alerts_send,
)
from tests.mar.conftest import at_local
from tests.medications.factories import line
from tests.residents.factories import resident

from .conftest import DAY, on_shift


def _given_prn(prn_line, by, at: dt.datetime) -> Administration:
    return Administration.objects.create(
        home=prn_line.home,
        resident=prn_line.resident,
        line=prn_line,
        dose=None,
        outcome=Outcome.GIVEN,
        quantity=Decimal(1),
        administered_at=at,
        recorded_at=at,
        recorded_by=by,
        prn_reason="Pain in left knee",
        idempotency_key=uuid.uuid4(),
    )


@pytest.fixture
def edith(unit_a, senior_a):
    return resident(unit_a, senior_a, full_name="Edith Clarke", room="12")


@pytest.fixture
def prn(home_a, edith, senior_a, senior2_a):
    with time_machine.travel(at_local(home_a, DAY - dt.timedelta(days=3), "10:00"), tick=False):
        return line(edith, senior_a, checker=senior2_a, prn=True)


# --- R-MAR-8: PRN effectiveness follow-up --------------------------------------------------------


def test_a_prn_dose_without_follow_up_after_an_hour_prompts_the_giver_and_seniors_once(
    home_a, unit_a, prn, carer_a, senior_a, senior2_a, manager_a
):
    on_shift(senior_a, home_a, None)
    on_shift(carer_a, home_a, unit_a)  # the giver is told whether on shift or not
    given = _given_prn(prn, carer_a, at_local(home_a, DAY, "14:00"))

    assert prn_follow_up_alerts_send(now=at_local(home_a, DAY, "14:59")) == 0
    assert prn_follow_up_alerts_send(now=at_local(home_a, DAY, "15:00")) == 2
    assert prn_follow_up_alerts_send(now=at_local(home_a, DAY, "15:05")) == 0
    sent = Notification.objects.filter(kind="prn_follow_up_due")
    assert sorted(sent.values_list("recipient__username", flat=True)) == ["carer_a", "senior_a"]
    assert {(n.subject, n.window) for n in sent} == {(f"administration:{given.pk}", str(given.pk))}
    assert "effective" in sent[0].title


def test_a_recorded_follow_up_stops_the_prompt(home_a, prn, carer_a, senior_a):
    on_shift(senior_a, home_a, None)
    given = _given_prn(prn, carer_a, at_local(home_a, DAY, "14:00"))
    PrnFollowUp.objects.create(
        administration=given,
        effectiveness="effective",
        recorded_at=at_local(home_a, DAY, "14:50"),
        recorded_by=carer_a,
    )
    assert prn_follow_up_alerts_send(now=at_local(home_a, DAY, "15:30")) == 0


# --- R-RX-8, R-RX-6: covert plans and PRN protocols past their review date ---------------------


def _covert_fields(today: dt.date) -> dict:
    return {
        "capacity_assessment": "Lacks capacity to decide about her medicines (MCA stage 2)",
        "capacity_assessed_on": today - dt.timedelta(days=3),
        "best_interests_decision": "Give hidden in yoghurt: untreated epilepsy risk",
        "best_interests_participants": "Dr Shah (GP), daughter (LPA), senior carer",
        "decided_on": today - dt.timedelta(days=2),
        "pharmacist_advice": "Crush; mix with a teaspoon of yoghurt; give at once",
        "pharmacist": "A. Patel, High Street Pharmacy",
        "review_date": today + dt.timedelta(days=30),
    }


def _prn_fields(today: dt.date) -> dict:
    return {
        "indication": "Pain",
        "dose_guidance": "1 tablet for mild pain",
        "min_interval_minutes": 240,
        "max_doses_24h": 4,
        "signs": "Grimacing, says it hurts",
        "can_ask": "yes",
        "alternatives": "Reposition, warm drink",
        "contact_prescriber": "Pain not controlled for 48 hours",
        "review_date": today + dt.timedelta(days=30),
    }


def test_plans_past_their_review_date_alert_managers_and_seniors_once(
    home_a, edith, prn, senior_a, senior2_a, carer_a, manager_a
):
    written = DAY - dt.timedelta(days=3)
    with time_machine.travel(at_local(home_a, written, "10:00"), tick=False):
        regular = line(edith, senior_a, checker=senior2_a)
        covert = services.covert_plan_record(line=regular, by=senior_a, **_covert_fields(written))
        protocol = services.prn_protocol_write(line=prn, by=senior_a, **_prn_fields(written))
    review = written + dt.timedelta(days=30)

    assert daily_alerts_send(home=home_a, today=review) == 0  # due today, not yet overdue
    later = review + dt.timedelta(days=1)
    assert daily_alerts_send(home=home_a, today=later) == 6  # 2 plans x 3 people
    assert daily_alerts_send(home=home_a, today=later + dt.timedelta(days=1)) == 0

    sent = Notification.objects.exclude(kind="medication_review_overdue")
    assert sorted(set(sent.values_list("kind", "subject", "window"))) == [
        ("covert_plan_review_due", f"covert:{covert.pk}", review.isoformat()),
        ("prn_protocol_review_due", f"prn:{protocol.pk}", review.isoformat()),
    ]
    assert set(sent.values_list("recipient__username", flat=True)) == {
        "manager_a",
        "senior_a",
        "senior2_a",
    }


# --- R-RES-4: medication reviews overdue ---------------------------------------------------------


def test_a_resident_with_no_review_for_a_year_alerts_the_managers_once_a_month(
    home_a, edith, manager_a, senior_a
):
    # Edith was admitted on 1 Jan 2026 and has had no review.
    assert medication_review_alerts_send(home=home_a, today=dt.date(2026, 12, 31)) == 0
    assert medication_review_alerts_send(home=home_a, today=dt.date(2027, 1, 5)) == 1
    assert medication_review_alerts_send(home=home_a, today=dt.date(2027, 1, 6)) == 0
    assert medication_review_alerts_send(home=home_a, today=dt.date(2027, 2, 1)) == 1
    sent = Notification.objects.filter(kind="medication_review_overdue")
    assert set(sent.values_list("recipient__username", flat=True)) == {"manager_a"}
    assert sorted(sent.values_list("window", flat=True)) == ["2027-01", "2027-02"]
    assert sent[0].title.startswith("Medication review overdue: Edith Clarke")
