"""R-SEC-4, H-9: each audit entry of a clinical write seals a digest of the row as saved, so
`verify_audit_trail` proves the administrations, stock movements (the CD register) and other
recorded rows still match what was recorded. Attacks are made the way a database writer would:
raw SQL through `connection.cursor()`, on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audits import services as audit_services
from emar import tasks
from emar.models import AuditEvent
from emar.services import audit_append, audit_verify, record_digest
from medications import services
from medications.models import Administration, StockMovement
from residents import services as resident_services
from tests.mar.conftest import ONE, code, dose_at, key

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres")]


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def problems() -> list[str]:
    return [str(p) for p in audit_verify()]


@pytest.fixture
def oxycodone(make_line):
    return make_line("Oxycodone 10mg capsules", dose_unit="capsule")


@pytest.fixture
def given(clock, qualified, paracetamol, carer_a):
    """A dose of paracetamol given at 08:10 through the service."""
    dose = dose_at(paracetamol, "08:00")
    clock("08:10")
    return services.administration_record(
        dose=dose, by=carer_a, outcome="given", idempotency_key=key()
    )


def test_an_administration_outcome_changed_in_sql_is_caught(given, home_a):
    assert AuditEvent.objects.get(
        object_type="medications.Administration", object_id=str(given.pk)
    ).record_digest
    assert problems() == []
    sql(
        "UPDATE medications_administration SET outcome = 'not_given', quantity = NULL, "
        "code_id = %s WHERE id = %s",
        [code(home_a, "R").pk, given.pk],
    )
    assert problems() == [f"medications.Administration {given.pk}: changed since it was recorded"]
    with pytest.raises(CommandError, match=f"Administration {given.pk}: changed since it was"):
        call_command("verify_audit_trail")


def test_a_cd_register_entry_changed_in_sql_is_caught(
    clock,
    qualified,
    oxycodone,
    senior_a,
    senior2_a,
    carer_a,
):
    received = services.stock_receive(
        line=oxycodone,
        by=senior_a,
        quantity=Decimal(28),
        pharmacy="Boots",
        witness=senior2_a,
    )
    dose = dose_at(oxycodone, "08:00")
    clock("08:10")
    record = services.administration_record(
        dose=dose, by=carer_a, outcome="given", witness=senior_a, idempotency_key=key()
    )
    out = StockMovement.objects.get(administration=record)
    assert problems() == []
    sql(
        "UPDATE medications_stockmovement SET change = 56, balance_after = balance_before + 56 "
        "WHERE id = %s",
        [received.pk],
    )
    sql(
        "UPDATE medications_stockmovement SET witness_id = %s WHERE id = %s", [senior2_a.pk, out.pk]
    )
    assert problems() == [
        f"medications.Administration {record.pk}: changed since it was recorded",
        f"medications.StockMovement {received.pk}: changed since it was recorded",
    ]


def test_a_clinical_row_inserted_or_removed_behind_the_service_is_caught(given, home_a, carer_a):
    forged = Administration.objects.create(
        home=home_a,
        resident=given.resident,
        line=given.line,
        outcome="given",
        quantity=ONE,
        administered_at=given.administered_at - dt.timedelta(minutes=5),
        recorded_by=carer_a,
        idempotency_key=key(),
    )
    assert problems() == [f"medications.Administration {forged.pk}: has no audit entry"]
    movements = "SELECT id FROM medications_stockmovement WHERE administration_id = %s"
    sql(f"DELETE FROM medications_stockdiscrepancy WHERE movement_id IN ({movements})", [given.pk])
    sql("DELETE FROM medications_stockmovement WHERE administration_id = %s", [given.pk])
    sql("DELETE FROM medications_administration WHERE id IN (%s, %s)", [given.pk, forged.pk])
    assert problems() == [
        f"medications.Administration {given.pk}: was removed after it was recorded"
    ]


def test_an_untampered_trail_of_every_kind_of_clinical_write_verifies(
    clock,
    qualified,
    paracetamol,
    oxycodone,
    home_a,
    carer_a,
    senior_a,
    senior2_a,
    capsys,
):
    services.stock_receive(
        line=oxycodone,
        by=senior_a,
        quantity=Decimal("28.000"),
        pharmacy="Boots",
        witness=senior2_a,
        batch="B1",
        expiry=dt.date(2027, 5, 1),
    )
    services.stock_receive(line=paracetamol, by=senior_a, quantity=Decimal("56"), pharmacy="Boots")
    clock("08:10")
    services.administration_record(
        dose=dose_at(oxycodone, "08:00"),
        by=carer_a,
        outcome="given",
        witness=senior_a,
        idempotency_key=key(),
    )
    wrong = services.administration_record(
        dose=dose_at(paracetamol, "08:00"),
        by=carer_a,
        outcome="not_given",
        code=code(home_a, "R"),
        idempotency_key=key(),
    )
    clock("08:30")
    services.administration_correct(
        original=wrong,
        by=senior_a,
        reason="Tapped refused by mistake",
        idempotency_key=key(),
        outcome="given",
        quantity=Decimal("1.0"),
    )
    services.stock_check(line=oxycodone, by=senior_a, counted=Decimal(27), witness=senior2_a)
    location = services.storage_location_create(
        home=home_a, by=senior_a, name="Fridge", kind="fridge"
    )
    services.temperature_record(
        location=location,
        by=senior_a,
        current=Decimal("4"),
        minimum=Decimal("3.5"),
        maximum=Decimal("6.25"),
        reset_confirmed=True,
    )
    resident = paracetamol.resident
    allergy = resident_services.allergy_add(
        resident=resident, by=senior_a, substance="Latex", reason="GP record"
    )
    resident_services.allergy_remove(
        allergy=allergy, by=senior_a, reason="Entered in error", new_status="none_known"
    )
    audit_services.incident_report(
        home=home_a,
        by=senior_a,
        kind="near_miss",
        stage="administering",
        type="wrong_dose",
        harm="none",
        occurred_at=clock("08:40") - dt.timedelta(minutes=5),
        description="Nearly two tablets",
        immediate_action="Stopped in time",
        suspend=(),
    )
    tasks.audit_checkpoint.delay()
    digested = set(
        AuditEvent.objects.exclude(record_digest="").values_list("object_type", flat=True)
    )
    assert digested >= {
        "medications.Administration",
        "medications.StockMovement",
        "medications.TemperatureReading",
        "residents.Allergy",
        "audits.Incident",
    }
    assert problems() == []
    call_command("verify_audit_trail")
    assert "Audit trail intact" in capsys.readouterr().out


def test_the_digest_is_of_the_row_as_saved(given):
    """1 and 1.000 are one quantity, a time in London or UTC is one instant: the digest taken
    at the write equals the one the verifier takes from the database."""
    again = Administration.objects.get(pk=given.pk)
    assert AuditEvent.objects.get(
        object_type="medications.Administration", object_id=str(given.pk)
    ).record_digest == record_digest(again)
    given.quantity = Decimal("1")
    given.administered_at = given.administered_at.astimezone(ZoneInfo("Europe/London"))
    assert record_digest(given) == record_digest(again)
    given.quantity = Decimal("2")
    assert record_digest(given) != record_digest(again)


def test_the_chain_head_is_locked_after_everything_else_is_computed(given, carer_a, home_a):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        audit_append(home=home_a, actor=carer_a, action="test.write", record=given)
    statements = [q["sql"] for q in queries.captured_queries]
    lock = next(i for i, s in enumerate(statements) if "FOR UPDATE" in s)
    assert "emar_auditchain" in statements[lock]
    assert not any("medications_stockmovement" in s for s in statements[lock:])
    assert len(statements) - lock <= 4  # lock, insert the link, move the head (and savepoints)


def test_a_record_must_be_saved_before_it_is_audited(home_a, carer_a, given):
    unsaved = Administration(home=home_a)
    with pytest.raises(ValueError, match="saved row"):
        audit_append(home=home_a, actor=carer_a, action="test.write", record=unsaved)
