"""R-RX-2, R-RX-6..10: PRN protocols, time-sensitive tolerance, covert plans,
self-administration, stopping, and the things a line may never be."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from emar.services import DomainError
from medications import selectors, services
from medications.models import LineStatus, PrescriptionLine
from tests.medications.factories import line, times


def _prn_fields(home, **over):
    fields = {
        "indication": "Pain",
        "dose_guidance": "1 tablet for mild pain, 2 if still in pain after 30 minutes",
        "min_interval_minutes": 240,
        "max_doses_24h": 4,
        "signs": "Grimacing, guarding, says it hurts",
        "can_ask": "yes",
        "alternatives": "Reposition, warm drink, company",
        "contact_prescriber": "Pain not controlled for 48 hours",
        "review_date": home.local_today() + dt.timedelta(days=90),
    }
    fields.update(over)
    return fields


# --- R-RX-2 ----------------------------------------------------------------------------------


def test_a_range_dose_reads_one_to_two(resident_a, senior_a):
    entered = line(resident_a, senior_a, prn=True, dose=Decimal(1), dose_max=Decimal(2))
    assert entered.dose_text == "1 to 2 tablet(s)"


def test_a_range_must_go_up(resident_a, senior_a):
    with pytest.raises(DomainError) as e:
        line(resident_a, senior_a, dose=Decimal(2), dose_max=Decimal(1))
    assert e.value.code == "dose_range"


def test_an_end_date_before_the_start_is_refused(home_a, resident_a, senior_a):
    start = home_a.local_today()
    with pytest.raises(DomainError) as e:
        line(resident_a, senior_a, start_date=start, end_date=start - dt.timedelta(days=1))
    assert e.value.code == "end_before_start"


def test_a_regular_line_needs_a_schedule(resident_a, senior_a):
    from medications.models import Medicine

    with pytest.raises(DomainError) as e:
        services.line_create(
            resident=resident_a,
            medicine=Medicine.objects.get(name="Paracetamol 500mg tablets"),
            by=senior_a,
            dose=Decimal(1),
            dose_unit="tablet",
            route="oral",
            prescriber="Dr A",
            source="gp",
            start_date=dt.date(2026, 1, 1),
            schedule=None,
        )
    assert e.value.code == "schedule_required"


def test_a_bad_schedule_is_refused_with_its_code(resident_a, senior_a):
    with pytest.raises(DomainError) as e:
        line(resident_a, senior_a, schedule=times("08:00", days="weekdays"))
    assert e.value.code == "schedule_no_weekdays"


def test_a_blister_pack_is_never_a_medicine(db):
    from django.core.exceptions import ValidationError

    from medications.models import Medicine

    for name in ("Blister pack (morning)", "Dosette box", "Nomad tray"):
        with pytest.raises(ValidationError) as e:
            Medicine(name=name).full_clean()
        assert e.value.error_dict["name"][0].code == "not_a_medicine"
    with pytest.raises(DomainError) as de:
        services.validate_not_a_container_domain("Dosette - all morning meds")
    assert de.value.code == "not_a_medicine"


# --- R-RX-6 PRN ------------------------------------------------------------------------------


def test_prn_line_is_never_scheduled_and_is_offered_only_with_a_protocol(
    home_a, resident_a, senior_a, senior2_a
):
    prn = line(resident_a, senior_a, prn=True, checker=senior2_a, indication="Pain")
    today = home_a.local_today()
    assert selectors.doses_due(home=home_a, start=today, end=today) == []
    assert list(selectors.prn_lines(home=home_a)) == []
    services.prn_protocol_write(line=prn, by=senior_a, **_prn_fields(home_a))
    assert list(selectors.prn_lines(home=home_a)) == [prn]


@pytest.mark.parametrize(
    "missing",
    [
        "signs",
        "alternatives",
        "contact_prescriber",
        "can_ask",
        "dose_guidance",
        "indication",
        "review_date",
    ],
)
def test_an_incomplete_prn_protocol_is_refused(home_a, resident_a, senior_a, missing):
    prn = line(resident_a, senior_a, prn=True)
    with pytest.raises(DomainError) as e:
        services.prn_protocol_write(line=prn, by=senior_a, **_prn_fields(home_a, **{missing: ""}))
    assert e.value.code == "prn_protocol_incomplete"
    assert missing.replace("_", " ") in e.value.messages[0]
    assert not prn.protocols.exists()


def test_a_regular_line_has_no_prn_protocol(home_a, resident_a, senior_a):
    regular = line(resident_a, senior_a)
    with pytest.raises(DomainError) as e:
        services.prn_protocol_write(line=regular, by=senior_a, **_prn_fields(home_a))
    assert e.value.code == "not_prn"


# --- R-RX-7 time-sensitive -------------------------------------------------------------------


def test_time_sensitive_lines_use_their_own_tolerance_default_15(
    home_a, resident_a, senior_a, senior2_a
):
    line(
        resident_a,
        senior_a,
        checker=senior2_a,
        name="Co-careldopa 25mg/100mg tablets",
        time_sensitive=True,
        schedule=times("07:00"),
    )
    line(resident_a, senior_a, checker=senior2_a, schedule=times("08:00"))
    today = home_a.local_today()
    ts, regular = selectors.doses_due(home=home_a, start=today, end=today)
    assert ts.time_sensitive and ts.tolerance_minutes == 15
    assert not regular.time_sensitive and regular.tolerance_minutes == home_a.dose_window_minutes


def test_a_tolerance_outside_1_to_120_minutes_is_refused(resident_a, senior_a):
    with pytest.raises(DomainError) as e:
        line(resident_a, senior_a, time_sensitive=True, tolerance_minutes=0)
    assert e.value.code == "tolerance_range"


# --- R-RX-8 covert ---------------------------------------------------------------------------


def _covert_fields(home, **over):
    today = home.local_today()
    fields = {
        "capacity_assessment": "Lacks capacity to decide about her medicines (MCA stage 2)",
        "capacity_assessed_on": today - dt.timedelta(days=3),
        "best_interests_decision": "Give hidden in yoghurt: untreated epilepsy risk",
        "best_interests_participants": "Dr Shah (GP), daughter (LPA), senior carer",
        "decided_on": today - dt.timedelta(days=2),
        "pharmacist_advice": "Crush; mix with a teaspoon of yoghurt; give at once",
        "pharmacist": "A. Patel, High Street Pharmacy",
        "review_date": today + dt.timedelta(days=90),
    }
    fields.update(over)
    return fields


@pytest.mark.parametrize(
    "missing",
    ["capacity_assessment", "best_interests_participants", "pharmacist_advice", "review_date"],
)
def test_an_incomplete_covert_plan_is_refused(home_a, resident_a, senior_a, missing):
    regular = line(resident_a, senior_a)
    with pytest.raises(DomainError) as e:
        services.covert_plan_record(
            line=regular, by=senior_a, **_covert_fields(home_a, **{missing: ""})
        )
    assert e.value.code == "covert_plan_incomplete"
    assert not selectors.has_covert_plan(regular)


def test_covert_is_allowed_once_the_plan_is_attached_and_flags_when_overdue(
    home_a, resident_a, senior_a, senior2_a
):
    regular = line(resident_a, senior_a, checker=senior2_a)
    services.covert_plan_record(line=regular, by=senior_a, **_covert_fields(home_a))
    assert selectors.has_covert_plan(regular)
    today = home_a.local_today()
    assert selectors.overdue_plans(home_a, today)["covert"] == []
    later = today + dt.timedelta(days=91)
    [overdue] = selectors.overdue_plans(home_a, later)["covert"]
    assert overdue.line == regular
    [due] = [d for d in selectors.doses_due(home=home_a, start=today, end=today)][:1]
    assert due.covert


# --- R-RX-9 self-administration --------------------------------------------------------------


def test_self_administration_needs_every_risk_answered_well(home_a, resident_a, senior_a):
    inhaler = line(
        resident_a,
        senior_a,
        name="Salbutamol 100micrograms/dose inhaler CFC free",
        dose_unit="puff",
        route="inhaled",
    )
    with pytest.raises(DomainError) as e:
        services.self_admin_assess(
            line=inhaler,
            by=senior_a,
            has_capacity=True,
            dexterity_ok=False,
            storage_ok=True,
            low_risk_to_others=True,
            self_administers=True,
            review_date=home_a.local_today() + dt.timedelta(days=30),
        )
    assert e.value.code == "self_admin_risk"


def test_self_administered_doses_show_as_such(home_a, resident_a, senior_a, senior2_a):
    inhaler = line(
        resident_a,
        senior_a,
        checker=senior2_a,
        schedule=times("08:00"),
        name="Beclometasone 100micrograms/dose inhaler CFC free",
        dose_unit="puff",
        route="inhaled",
    )
    services.self_admin_assess(
        line=inhaler,
        by=senior_a,
        has_capacity=True,
        dexterity_ok=True,
        storage_ok=True,
        low_risk_to_others=True,
        self_administers=True,
        review_date=home_a.local_today() + dt.timedelta(days=30),
    )
    today = home_a.local_today()
    [due] = selectors.doses_due(home=home_a, start=today, end=today)
    assert due.self_administered
    assert selectors.resident_flags(home_a, [resident_a.pk])[resident_a.pk]["self_admin"]


# --- R-RX-10 stopping ------------------------------------------------------------------------


def test_stopping_needs_a_reason_and_who_authorised_it(resident_a, senior_a, senior2_a):
    live = line(resident_a, senior_a, checker=senior2_a)
    with pytest.raises(DomainError) as e:
        services.line_stop(line=live, by=senior_a, reason="", authorised_by="Dr Shah")
    assert e.value.code == "stop_reason_required"
    with pytest.raises(DomainError) as e:
        services.line_stop(line=live, by=senior_a, reason="Course finished", authorised_by="")
    assert e.value.code == "stop_authoriser_required"
    live.refresh_from_db()
    assert live.status == LineStatus.ACTIVE


def test_a_stopped_line_leaves_rounds_from_the_stop_time_and_stays_on_record(
    home_a, resident_a, senior_a, senior2_a
):
    day = dt.date(2026, 6, 10)
    with time_machine.travel(dt.datetime(2026, 6, 3, 9, tzinfo=dt.UTC), tick=False):
        live = line(
            resident_a,
            senior_a,
            checker=senior2_a,
            start_date=dt.date(2026, 6, 3),
            schedule=times("08:00", "12:00", "20:00"),
        )
    with time_machine.travel(dt.datetime(2026, 6, 10, 10, tzinfo=dt.UTC), tick=False):  # 11:00 BST
        services.line_stop(line=live, by=senior_a, reason="Rash", authorised_by="Dr Shah by phone")
        due = selectors.doses_due(home=home_a, start=day, end=day)
    assert [d.local_time for d in due] == [dt.time(8)]
    assert PrescriptionLine.objects.filter(pk=live.pk, status=LineStatus.STOPPED).exists()
    assert list(selectors.lines_of(resident_a)) == [live]


def test_a_stop_cannot_be_back_dated(resident_a, senior_a, senior2_a):
    live = line(resident_a, senior_a, checker=senior2_a)
    with pytest.raises(DomainError) as e:
        services.line_stop(
            line=live,
            by=senior_a,
            reason="x",
            authorised_by="GP",
            at=timezone.now() - dt.timedelta(days=1),
        )
    assert e.value.code == "stop_in_past"


def test_a_line_is_stopped_once(resident_a, senior_a, senior2_a):
    live = line(resident_a, senior_a, checker=senior2_a)
    services.line_stop(line=live, by=senior_a, reason="x", authorised_by="GP")
    with pytest.raises(DomainError) as e:
        services.line_stop(line=live, by=senior_a, reason="x", authorised_by="GP")
    assert e.value.code == "already_stopped"


def test_a_line_entered_in_error_can_be_stopped_before_its_check(resident_a, senior_a):
    entered = line(resident_a, senior_a)
    services.line_stop(line=entered, by=senior_a, reason="Entered in error", authorised_by="Me")
    entered.refresh_from_db()
    assert entered.status == LineStatus.STOPPED and entered.checked_by is None


def test_competency_categories_of_a_line(resident_a, senior_a):
    cd_prn = line(
        resident_a, senior_a, prn=True, name="Oxycodone 5mg/5ml oral solution", dose_unit="ml"
    )
    assert cd_prn.competency_categories() == ["oral", "controlled_drugs", "prn"]
    peg = line(resident_a, senior_a, route="enteral_tube")
    assert peg.category == "peg"
    assert peg.competency_categories(covert=True) == ["peg", "covert"]
