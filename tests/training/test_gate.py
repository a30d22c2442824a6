"""The one gate in front of every dose and every CD witness (R-TRN-3, R-MAR-13)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from emar.models import AuditEvent
from tests.training.factories import AssessmentFactory, TrainingRecordFactory, qualify
from training import services
from training.models import CompetencySuspension, MedicineCategory, Outcome
from training.services import TrainingGateError

LONDON = zoneinfo.ZoneInfo("Europe/London")
ALL = list(MedicineCategory)


def gate_code(person, home, category, at=None) -> str | None:
    try:
        services.gate_administration(person=person, home=home, category=category, at=at)
    except TrainingGateError as e:
        return e.code
    return None


@pytest.mark.parametrize("category", ALL)
def test_qualified_carer_may_give_every_kind_of_medicine(carer_a, home_a, category):
    qualify(carer_a, home_a, [category])
    services.gate_administration(person=carer_a, home=home_a, category=category)
    assert services.check_administration(person=carer_a, home=home_a, category=category) is None


@pytest.mark.parametrize("category", ALL)
def test_competency_for_another_kind_does_not_count(carer_a, home_a, category):
    others = [c for c in ALL if c != category]
    qualify(carer_a, home_a, others)
    assert gate_code(carer_a, home_a, category) == "competency_missing"


def test_no_training_is_gated(carer_a, home_a):
    AssessmentFactory(home=home_a, person=carer_a)
    assert gate_code(carer_a, home_a, "oral") == "training_missing"


def test_other_courses_are_not_medication_training(carer_a, home_a):
    from tests.training.factories import course

    TrainingRecordFactory(home=home_a, person=carer_a, course=course("data_security"))
    AssessmentFactory(home=home_a, person=carer_a)
    assert gate_code(carer_a, home_a, "oral") == "training_missing"


def test_training_at_another_home_does_not_count(carer_a, home_a, home_b):
    qualify(carer_a, home_b)
    AssessmentFactory(home=home_a, person=carer_a)
    assert gate_code(carer_a, home_a, "oral") == "training_missing"


def test_refusal_says_why_and_who_can_help(carer_a, senior_a, manager_a, home_a):
    TrainingRecordFactory(home=home_a, person=carer_a)
    refusal = services.check_administration(person=carer_a, home=home_a, category="oral")
    assert refusal.code == "competency_missing"
    assert str(senior_a) in refusal.message
    assert str(manager_a) in refusal.message


def test_error_is_a_domain_error_with_a_stable_code(carer_a, home_a):
    from emar.services import DomainError

    with pytest.raises(DomainError) as info:
        services.gate_administration(person=carer_a, home=home_a, category="oral")
    assert info.value.code == "training_missing"


def test_unknown_category_is_refused(carer_a, home_a):
    qualify(carer_a, home_a)
    with pytest.raises(services.TrainingError) as info:
        services.gate_administration(person=carer_a, home=home_a, category="tablets")
    assert info.value.code == "bad_category"


def test_inspectors_and_outsiders_are_not_staff(inspector_a, carer_b, home_a):
    qualify(inspector_a, home_a)
    assert gate_code(inspector_a, home_a, "oral") == "not_staff"
    qualify(carer_b, home_a)
    assert gate_code(carer_b, home_a, "oral") == "not_staff"


def test_latest_assessment_not_yet_competent_is_gated(carer_a, home_a):
    qualify(carer_a, home_a, ["oral"], on=dt.date(2026, 1, 5))
    AssessmentFactory(
        home=home_a,
        person=carer_a,
        assessed_on=dt.date(2026, 3, 1),
        outcome=Outcome.NOT_YET_COMPETENT,
    )
    with time_machine.travel(dt.datetime(2026, 4, 1, 9, tzinfo=LONDON), tick=False):
        assert gate_code(carer_a, home_a, "oral") == "competency_not_competent"


# --- Expiry boundaries: in date up to and including the day before `expires_on` -------------


@pytest.fixture
def assessed_3_oct_2025(carer_a, home_a):
    TrainingRecordFactory(home=home_a, person=carer_a, completed_on=dt.date(2026, 6, 1))
    return AssessmentFactory(home=home_a, person=carer_a, assessed_on=dt.date(2025, 10, 3))


def test_competency_expires_12_months_after_the_assessment(assessed_3_oct_2025):
    assert assessed_3_oct_2025.expires_on == dt.date(2026, 10, 3)


@pytest.mark.parametrize(
    ("local_moment", "expected"),
    [
        (dt.datetime(2026, 10, 2, 23, 59), None),  # the day before expiry: last good day
        (dt.datetime(2026, 10, 3, 0, 1), "competency_expired"),  # on the expiry date
        (dt.datetime(2026, 10, 4, 12, 0), "competency_expired"),  # after
    ],
)
def test_competency_expiry_boundary(carer_a, home_a, assessed_3_oct_2025, local_moment, expected):
    at = local_moment.replace(tzinfo=LONDON)
    with time_machine.travel(at, tick=False):
        assert gate_code(carer_a, home_a, "oral") == expected
    assert gate_code(carer_a, home_a, "oral", at=at) == expected


def test_expiry_uses_the_homes_date_not_utc(carer_a, home_a, assessed_3_oct_2025):
    # 23:30 UTC on 2 Oct is 00:30 on 3 Oct in London (BST): already expired there.
    at = dt.datetime(2026, 10, 2, 23, 30, tzinfo=dt.UTC)
    assert gate_code(carer_a, home_a, "oral", at=at) == "competency_expired"
    assert gate_code(carer_a, home_a, "oral", at=at - dt.timedelta(hours=1)) is None


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 2, 14), None),
        (dt.date(2026, 2, 15), "training_expired"),
        (dt.date(2026, 2, 16), "training_expired"),
    ],
)
def test_training_expiry_boundary(carer_a, home_a, day, expected):
    TrainingRecordFactory(home=home_a, person=carer_a, completed_on=dt.date(2025, 2, 15))
    AssessmentFactory(home=home_a, person=carer_a, assessed_on=dt.date(2026, 1, 1))
    at = dt.datetime.combine(day, dt.time(12), tzinfo=LONDON)
    assert gate_code(carer_a, home_a, "oral", at=at) == expected


def test_refresher_training_counts(carer_a, home_a):
    TrainingRecordFactory(home=home_a, person=carer_a, completed_on=dt.date(2024, 1, 10))
    TrainingRecordFactory(home=home_a, person=carer_a, completed_on=dt.date(2025, 1, 5))
    AssessmentFactory(home=home_a, person=carer_a, assessed_on=dt.date(2025, 1, 5))
    at = dt.datetime(2025, 6, 1, 9, tzinfo=LONDON)
    assert gate_code(carer_a, home_a, "oral", at=at) is None


def test_reassessment_renews_competency(carer_a, home_a, assessed_3_oct_2025):
    AssessmentFactory(home=home_a, person=carer_a, assessed_on=dt.date(2026, 9, 20))
    at = dt.datetime(2026, 10, 10, 9, tzinfo=LONDON)
    assert gate_code(carer_a, home_a, "oral", at=at) is None


# --- Suspension and reinstatement (R-TRN-3) ----------------------------------------------------


def test_suspension_gates_until_reassessed(carer_a, senior_a, manager_a, home_a):
    qualify(carer_a, home_a)
    services.competency_suspend(
        person=carer_a,
        home=home_a,
        categories=["oral", "prn"],
        reason="Wrong dose given",
        by=manager_a,
        incident_ref="INC-7",
    )
    assert gate_code(carer_a, home_a, "oral") == "competency_suspended"
    assert gate_code(carer_a, home_a, "prn") == "competency_suspended"
    assert gate_code(carer_a, home_a, "topical") is None

    services.competency_assess(
        person=carer_a,
        home=home_a,
        category="oral",
        by=senior_a,
        assessed_on=home_a.local_today(),
        outcome=Outcome.COMPETENT,
    )
    assert gate_code(carer_a, home_a, "oral") is None
    assert gate_code(carer_a, home_a, "prn") == "competency_suspended"
    actions = list(AuditEvent.objects.filter(home=home_a).values_list("action", flat=True))
    assert actions.count("competency.suspended") == 2
    assert "competency.reinstated" in actions


def test_a_not_yet_competent_reassessment_does_not_reinstate(carer_a, senior_a, home_a):
    qualify(carer_a, home_a)
    services.competency_suspend(
        person=carer_a, home=home_a, categories="oral", reason="Error", by=senior_a
    )
    services.competency_assess(
        person=carer_a,
        home=home_a,
        category="oral",
        by=senior_a,
        assessed_on=home_a.local_today(),
        outcome=Outcome.NOT_YET_COMPETENT,
        notes="Needs to check the MAR before preparing",
    )
    assert gate_code(carer_a, home_a, "oral") == "competency_suspended"


def test_an_assessment_dated_before_the_suspension_does_not_reinstate(carer_a, senior_a, home_a):
    qualify(carer_a, home_a)
    services.competency_suspend(
        person=carer_a, home=home_a, categories="oral", reason="Error", by=senior_a
    )
    services.competency_assess(
        person=carer_a,
        home=home_a,
        category="oral",
        by=senior_a,
        assessed_on=home_a.local_today() - dt.timedelta(days=3),
        outcome=Outcome.COMPETENT,
    )
    assert gate_code(carer_a, home_a, "oral") == "competency_suspended"


def test_suspension_for_the_same_incident_is_made_once(carer_a, manager_a, home_a):
    for _ in range(2):
        services.competency_suspend(
            person=carer_a,
            home=home_a,
            categories=["oral"],
            reason="Wrong resident",
            by=manager_a,
            incident_ref="INC-1",
        )
    assert CompetencySuspension.objects.filter(person=carer_a).count() == 1


def test_suspension_needs_a_reason_and_a_real_category(carer_a, manager_a, home_a):
    with pytest.raises(services.TrainingError) as info:
        services.competency_suspend(
            person=carer_a, home=home_a, categories=["oral"], reason="  ", by=manager_a
        )
    assert info.value.code == "reason_required"
    with pytest.raises(services.TrainingError) as info:
        services.competency_suspend(
            person=carer_a, home=home_a, categories=["gummies"], reason="x", by=manager_a
        )
    assert info.value.code == "bad_category"


def test_suspension_of_someone_outside_the_home_is_refused(carer_b, manager_a, home_a):
    with pytest.raises(services.TrainingError) as info:
        services.competency_suspend(
            person=carer_b, home=home_a, categories=["oral"], reason="x", by=manager_a
        )
    assert info.value.code == "not_staff"


def test_a_dose_recorded_before_the_suspension_was_allowed_then(carer_a, manager_a, home_a):
    qualify(carer_a, home_a)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    services.competency_suspend(
        person=carer_a, home=home_a, categories=["oral"], reason="Error", by=manager_a
    )
    assert gate_code(carer_a, home_a, "oral", at=before) is None


# --- Witnessing controlled drugs ---------------------------------------------------------------


def test_witness_needs_cd_competency(senior_a, home_a):
    qualify(senior_a, home_a, ["oral"])
    with pytest.raises(TrainingGateError) as info:
        services.gate_witness(person=senior_a, home=home_a)
    assert info.value.code == "competency_missing"
    AssessmentFactory(home=home_a, person=senior_a, category=MedicineCategory.CONTROLLED_DRUGS)
    services.gate_witness(person=senior_a, home=home_a)
    assert services.check_witness(person=senior_a, home=home_a) is None


def test_witness_needs_medication_training(senior_a, home_a):
    AssessmentFactory(home=home_a, person=senior_a, category=MedicineCategory.CONTROLLED_DRUGS)
    refusal = services.check_witness(person=senior_a, home=home_a)
    assert refusal.code == "training_missing"
    assert str(senior_a) in refusal.message


def test_suspended_cd_competency_cannot_witness(senior_a, manager_a, home_a):
    qualify(senior_a, home_a)
    services.competency_suspend(
        person=senior_a,
        home=home_a,
        categories=[MedicineCategory.CONTROLLED_DRUGS],
        reason="CD count discrepancy",
        by=manager_a,
    )
    assert services.check_witness(person=senior_a, home=home_a).code == "competency_suspended"


def test_expired_cd_competency_cannot_witness(senior_a, home_a):
    qualify(senior_a, home_a, on=dt.date(2025, 3, 1))
    at = dt.datetime(2026, 3, 1, 8, tzinfo=LONDON)
    assert services.check_witness(person=senior_a, home=home_a, at=at).code == ("training_expired")
    TrainingRecordFactory(home=home_a, person=senior_a, completed_on=dt.date(2026, 2, 1))
    assert services.check_witness(person=senior_a, home=home_a, at=at).code == (
        "competency_expired"
    )
