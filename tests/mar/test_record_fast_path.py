"""Recording without reading back (SPEC §11) keeps the audit trail's guarantees
(R-SEC-4, H-9): the digest taken from the rows just written is the digest of the rows as the
database stored them, the link and the head are written together, and the verifier agrees."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.urls import reverse

from emar.audit_trail import _as_saved, record_digest
from emar.models import AuditChain, AuditEvent
from emar.services import audit_verify
from medications.models import Administration
from tests.mar.conftest import dose_at
from tests.stock.conftest import receive


def _tap(client, dose):
    return client.post(
        reverse("medications:dose_record", args=[dose.pk]),
        {"idempotency_key": str(uuid.uuid4()), "outcome": "given"},
        HTTP_HX_REQUEST="true",
    )


def test_the_digest_of_a_tap_is_the_digest_of_the_stored_rows_and_the_trail_verifies(
    client, clock, qualified, paracetamol, carer_a, senior_a
):
    """H-9: the record and its stock movement, digested as written, match the read-back."""
    receive(paracetamol, senior_a, "56")
    morning = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    assert _tap(client, morning).status_code == 200
    record = Administration.objects.get(dose=morning)
    assert record.stock_movements.count() == 1
    link = AuditEvent.objects.get(object_type="medications.Administration", object_id=record.pk)
    assert link.record_digest == record_digest(_as_saved(record))
    chain = AuditChain.objects.get(home_id=record.home_id)
    assert (chain.last_seq, chain.last_hash) == (link.seq, link.hash)  # link and head together
    assert audit_verify() == []


def test_a_decimal_beyond_its_places_is_digested_as_the_database_rounds_it(
    clock, qualified, paracetamol, carer_a
):
    """numeric(8, 3) keeps 1.0005 as 1.001: the in-memory digest rounds the same way."""
    morning = dose_at(paracetamol, "08:00")
    clock("08:05")
    record = Administration(
        home=morning.home,
        resident=morning.resident,
        line=paracetamol,
        dose=morning,
        outcome="given",
        quantity=Decimal("1.0005"),
        administered_at=morning.due_at,
        recorded_by=carer_a,
        idempotency_key=uuid.uuid4(),
    )
    record.save()
    written = record_digest(record, {"stock_movements": []})
    assert written == record_digest(_as_saved(record))
    assert _as_saved(record).quantity == Decimal("1.001")


def test_a_change_to_a_tapped_record_is_still_caught(
    client, clock, qualified, paracetamol, carer_a, senior_a
):
    """H-9: a record edited behind the service's back disagrees with its link."""
    receive(paracetamol, senior_a, "56")
    morning = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    _tap(client, morning)
    Administration.objects.filter(dose=morning).update(quantity=Decimal(2))
    assert [str(p) for p in audit_verify()] == [
        f"medications.Administration {Administration.objects.get(dose=morning).pk}: "
        "changed since it was recorded"
    ]
