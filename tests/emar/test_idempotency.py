"""One record per submitted form (R-SEC-1, H-5): every form that creates a clinical or register
record carries an idempotency key made when it is drawn, the record's table has a named unique
rule on it, and the create service answers a repeated key with the first record."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audits import forms as audit_forms
from audits import services as audit_services
from audits.models import Audit, AuditAction, Incident, previous_month
from emar.forms import IdempotencyKeyMixin
from emar.models import AuditEvent, IdempotentRecord
from emar.services import DomainError
from medications import services as rx_services
from medications.forms import orders as order_forms
from medications.forms import prescriptions as rx_forms
from medications.forms import stock as stock_forms
from medications.models import (
    CovertPlan,
    HomelyRemedy,
    HomelyRemedyAuthorisation,
    LineStatus,
    PrescriptionLine,
    PrnProtocol,
    ScheduleVersion,
    SelfAdminAssessment,
    VariableDose,
)
from residents import forms as resident_forms
from residents import services as resident_services
from residents.models import Allergy, Discrepancy, MedicationReview, Reconciliation, Resident
from tests.medications.factories import line, medicine, times
from tests.residents.factories import resident, valid_nhs_number
from tests.training.factories import course
from training import forms as training_forms
from training import services as training_services
from training.models import CompetencyAssessment, TrainingRecord

CREATE_FORMS = [
    stock_forms.ReceiveForm,
    stock_forms.DisposeForm,
    stock_forms.CheckForm,
    stock_forms.CorrectForm,
    stock_forms.TemperatureForm,
    audit_forms.IncidentForm,
    audit_forms.ActionForm,
    training_forms.TrainingRecordForm,
    training_forms.AssessmentForm,
    resident_forms.AdmitForm,
    resident_forms.AllergyForm,
    resident_forms.ReconciliationForm,
    resident_forms.DiscrepancyForm,
    resident_forms.ReviewForm,
    resident_forms.DocumentForm,
    rx_forms.LineForm,
    rx_forms.ScheduleChangeForm,
    rx_forms.CheckForm,
    rx_forms.StopForm,
    rx_forms.PrnProtocolForm,
    rx_forms.CovertPlanForm,
    rx_forms.SelfAdminForm,
    rx_forms.VariableDoseForm,
    rx_forms.HomelyAuthorisationForm,
    order_forms.ItemAddForm,
    order_forms.GoodsInForm,
    order_forms.FollowUpForm,
]


def test_every_keyed_record_has_the_named_unique_rule_on_its_key():
    keyed = [m for m in apps.get_models() if issubclass(m, IdempotentRecord)]
    assert len(keyed) >= 19
    for model in keyed:
        names = {
            c.name
            for c in model._meta.constraints
            if getattr(c, "fields", None) == ("idempotency_key",)
        }
        assert names == {f"{model._meta.app_label}_{model._meta.model_name}_one_per_key"}, model
        assert model._meta.get_field("idempotency_key").null  # rows from before the key


@pytest.mark.parametrize("form_class", CREATE_FORMS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_create_form_carries_a_hidden_key_made_when_it_is_drawn(form_class):
    assert issubclass(form_class, IdempotencyKeyMixin)
    field = form_class.base_fields["idempotency_key"]
    assert field.widget.is_hidden
    first, second = field.initial(), field.initial()
    assert isinstance(first, uuid.UUID) and first != second


def post_twice(client, url: str, data: dict) -> tuple[int, int]:
    data = {**data, "idempotency_key": str(uuid.uuid4())}
    return client.post(url, data).status_code, client.post(url, data).status_code


def test_posting_the_same_incident_twice_stores_one(client, home_a, carer_a):
    client.force_login(carer_a)
    data = {
        "kind": "error",
        "stage": "administering",
        "type": "wrong_time",
        "harm": "none",
        "occurred_at": "2026-01-05T10:00",
        "description": "Late insulin",
        "immediate_action": "BM checked",
    }
    assert post_twice(client, reverse("incident_new", args=[home_a.pk]), data) == (302, 302)
    assert Incident.objects.count() == 1
    assert AuditEvent.objects.filter(action="incident.reported").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_reports_of_the_same_incident_store_one(postgres, home_a, carer_a):
    """The incident service retries its numbering on a unique clash; a clash on the key is
    not a numbering clash and answers with the first incident."""
    key = uuid.uuid4()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(
                audit_services.incident_report(
                    home=home_a,
                    by=carer_a,
                    kind="error",
                    stage="administering",
                    type="wrong_dose",
                    harm="low",
                    occurred_at=timezone.now() - dt.timedelta(hours=1),
                    description="Two tablets given",
                    immediate_action="GP called",
                    idempotency_key=key,
                )
            )
        except Exception as e:
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results[0].pk == results[1].pk and Incident.objects.count() == 1


def twice(service, model, **kwargs):
    """Call a create service twice with one key: one row, one audit entry, the same answer."""
    key = uuid.uuid4()
    rows, events = model.objects.count(), AuditEvent.objects.count()
    first = service(idempotency_key=key, **kwargs)
    added_events = AuditEvent.objects.count() - events
    again = service(idempotency_key=key, **kwargs)
    assert again.pk == first.pk
    assert model.objects.count() == rows + 1
    assert AuditEvent.objects.count() - events == added_events
    return first


def test_resident_records_are_stored_once_per_key(home_a, unit_a, senior_a):
    person = twice(
        resident_services.resident_admit,
        Resident,
        home=home_a,
        unit=unit_a,
        by=senior_a,
        admitted_on=dt.date(2026, 1, 1),
        full_name="Ada Lovelace",
        date_of_birth=dt.date(1940, 1, 1),
        nhs_number=valid_nhs_number(),
        room="7",
    )
    twice(
        resident_services.allergy_add,
        Allergy,
        resident=person,
        by=senior_a,
        substance="Latex",
        reason="GP record",
    )
    rec = twice(
        resident_services.reconciliation_start,
        Reconciliation,
        resident=person,
        by=senior_a,
        reason="admission",
        arrived_on=dt.date(2026, 1, 1),
        sources=["gp_record"],
    )
    twice(
        resident_services.discrepancy_add,
        Discrepancy,
        reconciliation=rec,
        by=senior_a,
        description="Dose differs",
    )
    twice(
        resident_services.review_record,
        MedicationReview,
        resident=person,
        by=senior_a,
        held_on=dt.date(2026, 1, 2),
        participants="GP",
        outcome="No change",
    )


def test_prescription_entry_check_stop_and_schedule_change_happen_once_per_key(
    unit_a, senior_a, senior2_a
):
    person = resident(unit_a, senior_a)
    entered = twice(
        rx_services.line_create,
        PrescriptionLine,
        resident=person,
        medicine=medicine("Paracetamol 500mg tablets"),
        by=senior_a,
        dose=Decimal(1),
        dose_unit="tablet",
        route="oral",
        prescriber="Dr Test",
        source="gp",
        start_date=person.home.local_today(),
        schedule=times("08:00"),
    )
    key = uuid.uuid4()
    checked = rx_services.line_check(line=entered, by=senior2_a, idempotency_key=key)
    again = rx_services.line_check(line=entered, by=senior2_a, idempotency_key=key)
    assert checked.status == again.status == LineStatus.ACTIVE
    assert AuditEvent.objects.filter(action="prescription.checked").count() == 1

    twice(
        rx_services.schedule_change,
        ScheduleVersion,
        line=checked,
        by=senior_a,
        schedule=times("09:00"),
    )
    other = line(person, senior_a, checker=senior2_a, name="Ibuprofen 200mg tablets")
    key = uuid.uuid4()
    for _ in range(2):
        stopped = rx_services.line_stop(
            line=other, by=senior_a, reason="Finished", authorised_by="GP", idempotency_key=key
        )
        assert stopped.status == LineStatus.STOPPED
    assert AuditEvent.objects.filter(action="prescription.stopped").count() == 1
    with pytest.raises(DomainError) as e:  # a new form: the stop is real news
        rx_services.line_stop(
            line=other, by=senior_a, reason="x", authorised_by="GP", idempotency_key=uuid.uuid4()
        )
    assert e.value.code == "already_stopped"


def prn_protocol_fields(today: dt.date) -> dict:
    return {
        "indication": "Pain",
        "dose_guidance": "1 tablet for mild pain",
        "min_interval_minutes": 240,
        "max_doses_24h": 4,
        "signs": "Grimacing",
        "can_ask": "yes",
        "alternatives": "Reposition",
        "contact_prescriber": "Pain not controlled for 48 hours",
        "review_date": today + dt.timedelta(days=90),
    }


def test_line_plans_assessments_and_variable_doses_are_stored_once_per_key(
    unit_a, senior_a, senior2_a
):
    person = resident(unit_a, senior_a)
    today = person.home.local_today()
    twice(
        rx_services.prn_protocol_write,
        PrnProtocol,
        line=line(person, senior_a, prn=True),
        by=senior_a,
        **prn_protocol_fields(today),
    )
    regular = line(person, senior_a, name="Ibuprofen 200mg tablets")
    twice(
        rx_services.covert_plan_record,
        CovertPlan,
        line=regular,
        by=senior_a,
        capacity_assessment="Lacks capacity to decide about her medicines",
        capacity_assessed_on=today - dt.timedelta(days=3),
        best_interests_decision="Give hidden in yoghurt",
        best_interests_participants="GP, daughter (LPA)",
        decided_on=today - dt.timedelta(days=2),
        pharmacist_advice="Crush; mix with yoghurt",
        pharmacist="A. Patel",
        review_date=today + dt.timedelta(days=90),
    )
    twice(
        rx_services.self_admin_assess,
        SelfAdminAssessment,
        line=regular,
        by=senior_a,
        has_capacity=True,
        dexterity_ok=True,
        storage_ok=True,
        low_risk_to_others=True,
        self_administers=True,
        review_date=today + dt.timedelta(days=30),
    )
    warfarin = line(
        person,
        senior_a,
        checker=senior2_a,
        name="Warfarin 1mg tablets",
        schedule=times("18:00", dose_rule="variable"),
    )
    twice(
        rx_services.variable_dose_set,
        VariableDose,
        line=warfarin,
        by=senior_a,
        day=today,
        dose=Decimal(3),
        inr=Decimal("2.5"),
        inr_date=today,
        advised_by="Anticoagulation clinic",
    )


def senna(home) -> HomelyRemedy:
    return HomelyRemedy.objects.create(
        home=home,
        medicine=medicine("Senna 7.5mg tablets"),
        indication="Constipation",
        dose=Decimal(1),
        dose_unit="tablet",
        dose_guidance="1 at night",
        min_interval_minutes=1200,
    )


def test_a_homely_remedy_authorisation_is_stored_once_per_key(home_a, unit_a, senior_a):
    person = resident(unit_a, senior_a)
    remedy = senna(home_a)
    today = home_a.local_today()
    fields = {
        "authorised_by_name": "Dr A Shah",
        "authorised_by_role": "gp",
        "authorised_on": today,
        "review_date": today + dt.timedelta(days=90),
        "exclusions": "None",
    }
    first = twice(
        rx_services.homely_authorisation_record,
        HomelyRemedyAuthorisation,
        resident=person,
        remedy=remedy,
        by=senior_a,
        **fields,
    )
    other = resident(unit_a, senior_a)
    with pytest.raises(DomainError) as e:  # a key never hands back another's record
        rx_services.homely_authorisation_record(
            resident=other,
            remedy=remedy,
            by=senior_a,
            idempotency_key=first.idempotency_key,
            **fields,
        )
    assert e.value.code == "key_reused"


def test_posting_the_same_prn_protocol_or_authorisation_twice_stores_one(
    client, home_a, unit_a, senior_a
):
    client.force_login(senior_a)
    person = resident(unit_a, senior_a)
    prn = line(person, senior_a, prn=True)
    data = prn_protocol_fields(home_a.local_today())
    assert post_twice(client, reverse("medications:prn_protocol", args=[prn.pk]), data) == (
        302,
        302,
    )
    assert PrnProtocol.objects.filter(line=prn).count() == 1
    remedy = senna(home_a)
    data = {
        "remedy": remedy.pk,
        "authorised_by_name": "Dr A Shah",
        "authorised_by_role": "gp",
        "authorised_on": home_a.local_today().isoformat(),
        "review_date": (home_a.local_today() + dt.timedelta(days=90)).isoformat(),
        "exclusions": "None",
    }
    url = reverse("medications:homely_authorisations", args=[person.pk])
    assert post_twice(client, url, data) == (302, 302)
    assert HomelyRemedyAuthorisation.objects.filter(resident=person).count() == 1


def test_training_records_assessments_and_audit_actions_are_stored_once_per_key(
    home_a, carer_a, manager_a
):
    twice(
        training_services.training_record_create,
        TrainingRecord,
        person=carer_a,
        home=home_a,
        course=course(),
        completed_on=home_a.local_today() - dt.timedelta(days=3),
        by=manager_a,
    )
    twice(
        training_services.competency_assess,
        CompetencyAssessment,
        person=carer_a,
        home=home_a,
        category="oral",
        by=manager_a,
        assessed_on=home_a.local_today(),
        outcome="competent",
    )
    audit = audit_services.audit_prepare(
        home=home_a, month=previous_month(home_a.local_today()), by=manager_a
    )
    assert isinstance(audit, Audit)
    twice(
        audit_services.action_add,
        AuditAction,
        audit=audit,
        description="Re-train on PRN",
        owner=manager_a,
        due_on=home_a.local_today() + dt.timedelta(days=14),
        by=manager_a,
    )


def test_a_check_key_from_another_line_is_refused_not_a_crash(unit_a, senior_a, senior2_a):
    person = resident(unit_a, senior_a)
    first = line(person, senior_a, name="Paracetamol 500mg tablets")
    second = line(person, senior_a, name="Ibuprofen 200mg tablets")
    key = uuid.uuid4()
    rx_services.line_check(line=first, by=senior2_a, idempotency_key=key)
    with pytest.raises(DomainError) as e:
        rx_services.line_check(line=second, by=senior2_a, idempotency_key=key)
    assert e.value.code == "key_reused"
    second.refresh_from_db()
    assert second.status == LineStatus.AWAITING_CHECK
