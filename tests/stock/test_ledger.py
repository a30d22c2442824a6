"""The stock ledger and the MAR moving stock (R-STK-1, R-STK-2, R-MAR-6 D and U, H-5)."""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from emar.models import Notification
from medications import services
from medications.models import Stock, StockDiscrepancy, StockMovement
from medications.services import StockError
from tests.mar.conftest import DAY, code, dose_at, key
from tests.stock.conftest import receive


def give(dose, by, **kw):
    return services.administration_record(
        dose=dose, by=by, outcome="given", idempotency_key=key(), **kw
    )


def balance(line) -> Decimal:
    return Stock.objects.get(line=line).balance


def test_a_receipt_books_stock_in_with_supplier_batch_and_expiry(
    clock, qualified, paracetamol, senior_a
):
    m = receive(paracetamol, senior_a, 56, batch="AB123", expiry=DAY.replace(year=2027))
    assert (m.kind, m.change, m.balance_before, m.balance_after, m.seq) == (
        "received",
        56,
        0,
        56,
        1,
    )
    assert m.pharmacy == "Boots, High Street" and m.batch == "AB123"
    assert balance(paracetamol) == 56
    assert paracetamol.home.audit_events.filter(action="stock.received").exists()


def test_a_receipt_needs_a_supplier_and_a_carer_cannot_book_in(
    clock, qualified, paracetamol, carer_a, senior_a
):
    with pytest.raises(StockError) as e:
        receive(paracetamol, senior_a, 10, pharmacy="")
    assert e.value.code == "supplier_required"
    with pytest.raises(StockError) as e:
        receive(paracetamol, carer_a, 10)
    assert e.value.code == "not_allowed"
    assert not StockMovement.objects.exists()


def test_a_given_dose_moves_stock_in_the_same_transaction(
    clock, qualified, paracetamol, carer_a, senior_a
):
    receive(paracetamol, senior_a, 28)
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    record = give(dose, carer_a)
    m = StockMovement.objects.get(administration=record)
    assert (m.kind, m.change, m.balance_after, m.by) == ("administered", -1, 27, carer_a)
    assert balance(paracetamol) == 27


def test_a_refused_dose_moves_no_stock_and_code_d_destroys_the_prepared_dose(
    clock, qualified, paracetamol, carer_a, senior_a
):
    receive(paracetamol, senior_a, 28)
    clock("08:05")
    services.administration_record(
        dose=dose_at(paracetamol, "08:00"),
        by=carer_a,
        outcome="not_given",
        code=code(paracetamol.home, "R"),
        idempotency_key=key(),
    )
    assert balance(paracetamol) == 28
    clock("20:05")
    record = services.administration_record(
        dose=dose_at(paracetamol, "20:00"),
        by=carer_a,
        outcome="not_given",
        code=code(paracetamol.home, "D"),
        idempotency_key=key(),
    )
    m = StockMovement.objects.get(administration=record)
    assert (m.kind, m.change) == ("destroyed", -1) and "Code D" in m.reason
    assert balance(paracetamol) == 27


def test_code_u_raises_a_stock_alert_once_per_line_per_day(
    clock, qualified, paracetamol, carer_a, senior_a, manager_a
):
    clock("08:05")
    for hhmm in ("08:00", "20:00"):
        clock("20:05" if hhmm == "20:00" else "08:05")
        services.administration_record(
            dose=dose_at(paracetamol, hhmm),
            by=carer_a,
            outcome="not_given",
            code=code(paracetamol.home, "U"),
            idempotency_key=key(),
        )
    alerts = Notification.objects.filter(kind="stock_alert")
    assert sorted(alerts.values_list("recipient__username", flat=True)) == [
        "manager_a",
        "senior2_a",
        "senior_a",
    ]
    assert all("Out of stock" in a.title for a in alerts)
    assert not StockMovement.objects.exists()


def test_stock_alert_skips_deactivated_accounts_and_ended_roles(
    clock, qualified, paracetamol, carer_a, senior_a, senior2_a, manager_a
):
    """R-ORG-2: a deactivated account and a role that has ended at the home get no stock alert."""
    type(senior2_a).objects.filter(pk=senior2_a.pk).update(is_active=False)
    manager_a.memberships.filter(home=paracetamol.home).update(active=False)
    clock("08:05")
    services.administration_record(
        dose=dose_at(paracetamol, "08:00"),
        by=carer_a,
        outcome="not_given",
        code=code(paracetamol.home, "U"),
        idempotency_key=key(),
    )
    told = Notification.objects.filter(kind="stock_alert").values_list("recipient", flat=True)
    assert set(told) == {senior_a.pk}


def test_a_dose_with_no_stock_left_still_records_but_warns_and_records_a_discrepancy(
    clock, qualified, paracetamol, carer_a, senior_a, manager_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    record = give(dose, carer_a)
    assert "discrepancy" in record.stock_warning.lower()
    assert balance(paracetamol) == -1
    d = StockDiscrepancy.objects.get()
    assert (d.kind, d.expected, d.found, d.line) == ("negative_balance", 1, 0, paracetamol)
    note = Notification.objects.get(kind="stock_negative_balance")
    assert note.recipient == manager_a


def test_a_correction_moves_the_difference_with_the_reason(
    clock, qualified, paracetamol, carer_a, senior_a
):
    receive(paracetamol, senior_a, 28)
    clock("08:05")
    record = give(dose_at(paracetamol, "08:00"), carer_a)
    services.administration_correct(
        original=record,
        by=senior_a,
        reason="She spat it out: refused",
        idempotency_key=key(),
        outcome="not_given",
        code=code(paracetamol.home, "R"),
    )
    m = StockMovement.objects.filter(line=paracetamol).last()
    assert (m.kind, m.change, m.balance_after) == ("adjusted", 1, 28)
    assert "She spat it out" in m.reason
    assert balance(paracetamol) == 28


def test_the_same_submission_twice_moves_stock_once(
    clock, qualified, paracetamol, carer_a, senior_a
):
    receive(paracetamol, senior_a, 28)
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    same = key()
    for _ in range(2):
        services.administration_record(dose=dose, by=carer_a, outcome="given", idempotency_key=same)
    assert balance(paracetamol) == 27
    assert StockMovement.objects.filter(kind="administered").count() == 1


def test_the_database_refuses_a_movement_that_does_not_add_up(
    clock, qualified, paracetamol, senior_a
):
    m = receive(paracetamol, senior_a, 10)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockMovement.objects.create(
            home=m.home,
            resident=m.resident,
            line=m.line,
            seq=2,
            kind="administered",
            change=-1,
            balance_before=10,
            balance_after=10,
            at=m.at,
            by=senior_a,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        StockMovement.objects.create(
            home=m.home,
            resident=m.resident,
            line=m.line,
            seq=1,  # the same place in the chain twice
            kind="received",
            change=1,
            balance_before=10,
            balance_after=11,
            at=m.at,
            by=senior_a,
            pharmacy="x",
        )


def test_returns_and_disposals_record_reason_destination_receipt_and_witness(
    clock, qualified, paracetamol, senior_a, senior2_a
):
    receive(paracetamol, senior_a, 28)
    with pytest.raises(StockError) as e:
        services.stock_dispose(
            line=paracetamol,
            by=senior_a,
            kind="returned",
            quantity=Decimal(5),
            reason="Stopped by GP",
            destination="Boots",
            witness=None,
        )
    assert e.value.code == "witness_required"
    m = services.stock_dispose(
        line=paracetamol,
        by=senior_a,
        kind="returned",
        quantity=Decimal(5),
        reason="Stopped by GP",
        destination="Boots, High Street",
        receipt_ref="RET-0042",
        witness=senior2_a,
    )
    assert (m.kind, m.change, m.receipt_ref, m.witness) == ("returned", -5, "RET-0042", senior2_a)
    with pytest.raises(StockError) as e:
        services.stock_dispose(
            line=paracetamol,
            by=senior_a,
            kind="destroyed",
            quantity=Decimal(50),
            reason="Dropped",
            witness=senior2_a,
        )
    assert e.value.code == "more_than_in_stock"
    assert balance(paracetamol) == 23


def test_a_stock_check_that_differs_adjusts_and_tells_the_manager(
    clock, qualified, paracetamol, senior_a, manager_a
):
    receive(paracetamol, senior_a, 28)
    check = services.stock_check(line=paracetamol, by=senior_a, counted=Decimal(26))
    assert (check.expected, check.counted, check.movement.change) == (28, 26, -2)
    assert balance(paracetamol) == 26
    d = StockDiscrepancy.objects.get(check_record=check)
    assert (d.kind, d.controlled_drug) == ("count", False)
    assert Notification.objects.filter(kind="stock_count", recipient=manager_a).exists()


def test_a_stock_check_that_agrees_is_an_entry_without_a_discrepancy(
    clock, qualified, paracetamol, senior_a
):
    receive(paracetamol, senior_a, 28)
    check = services.stock_check(line=paracetamol, by=senior_a, counted=Decimal(28))
    assert check.movement.change == 0 and check.movement.seq == 2
    assert not StockDiscrepancy.objects.exists()


def test_a_cd_stock_check_needs_two_people_and_says_who_must_be_informed(
    clock, qualified, oxycodone, senior_a, senior2_a, manager_a
):
    receive(oxycodone, senior_a, 28, witness=senior2_a)
    with pytest.raises(StockError) as e:
        services.stock_check(line=oxycodone, by=senior_a, counted=Decimal(27))
    assert e.value.code == "witness_required"
    with pytest.raises(StockError) as e:
        services.stock_check(line=oxycodone, by=senior_a, counted=Decimal(27), witness=senior_a)
    assert e.value.code == "witness_same_person"
    check = services.stock_check(
        line=oxycodone, by=senior_a, counted=Decimal(27), witness=senior2_a, theft_suspected=True
    )
    assert check.witness == senior2_a
    note = Notification.objects.get(kind="stock_count", recipient=manager_a)
    assert note.urgent
    for who in ("accountable officer", "police", "CQC"):
        assert who in note.body


def test_a_cd_receipt_needs_a_witness(clock, qualified, oxycodone, senior_a):
    with pytest.raises(StockError) as e:
        receive(oxycodone, senior_a, 28)
    assert e.value.code == "witness_required"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_movements_of_the_same_stock_never_lose_an_update(
    postgres, clock, qualified, paracetamol, carer_a, senior_a, senior2_a, manager_a
):
    """Two doses recorded while two receipts are booked in, all at once (H-5)."""
    receive(paracetamol, senior_a, 10)
    am, pm = dose_at(paracetamol, "08:00"), dose_at(paracetamol, "20:00")
    clock("08:05")
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def run(action):
        try:
            barrier.wait()
            action()
        except Exception as e:
            errors.append(e)
        finally:
            connection.close()

    actions = [
        lambda: give(am, carer_a),
        lambda: receive(paracetamol, senior_a, 5),
        lambda: receive(paracetamol, senior2_a, 7),
        lambda: services.stock_check(line=paracetamol, by=manager_a, counted=Decimal(100)),
    ]
    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    moves = list(StockMovement.objects.filter(line=paracetamol).order_by("seq"))
    assert [m.seq for m in moves] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(moves):
        assert after.balance_before == before.balance_after
    stock = Stock.objects.get(line=paracetamol)
    assert stock.balance == moves[-1].balance_after == sum(m.change for m in moves)
    assert stock.seq == 5
    del pm
