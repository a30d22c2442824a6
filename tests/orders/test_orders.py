"""The monthly ordering cycle (R-ORD-1): preparation against a hand count, exactly once per home
and cycle, review with reasons, approval, the PDF and the email to the pharmacy."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.core import mail

from emar.models import AuditEvent
from medications import services
from medications.models import MedicationOrder, OrderItem
from medications.services import OrderError
from tests.mar.conftest import DAY, prn_protocol
from tests.medications.factories import times
from tests.orders.conftest import NEXT_CYCLE, prepare, receive


def items(order) -> dict[str, Decimal]:
    return {i.line.medicine.name: i.quantity for i in order.items.select_related("line__medicine")}


@pytest.fixture
def small_home(clock, qualified, make_line, senior_a, carer_a, cycle):
    """One resident: paracetamol twice a day (28 in stock), amlodipine once a day (100 in
    stock), a PRN with 2 given in the last fortnight (4 in, 2 left), and a stopped line."""
    para = make_line()
    aml = make_line("Amlodipine 5mg tablets", schedule=times("08:00"))
    prn = make_line("Ibuprofen 200mg tablets", prn=True)
    stopped = make_line("Simvastatin 20mg tablets", schedule=times("20:00"))
    receive(para, senior_a, 28)
    receive(aml, senior_a, 100)
    receive(prn, senior_a, 4)
    receive(stopped, senior_a, 10)
    prn_protocol(prn, senior_a)
    for hhmm in ("14:00", "19:00"):
        clock(hhmm)
        services.administration_record(
            line=prn,
            by=carer_a,
            outcome="given",
            prn_reason="Knee pain",
            idempotency_key=uuid.uuid4(),
        )
    services.line_stop(line=stopped, by=senior_a, reason="Stopped by GP", authorised_by="Dr Test")
    clock("10:00")  # 25 Nov 2026, the order date
    return {"para": para, "aml": aml, "prn": prn, "stopped": stopped}


def test_the_order_quantities_match_a_hand_count(small_home, home_a):
    order = prepare(home_a)
    assert (order.cycle_start, order.cycle_end) == (NEXT_CYCLE, dt.date(2026, 12, 29))
    # Paracetamol 1 tablet at 08:00 and 20:00. From 25 Nov 10:00 to 29 Dec: today's 20:00
    # dose (1) + 34 whole days x 2 = 69 needed, 28 in stock: order 41.
    # Amlodipine 1 at 08:00: 34 days (today's has passed) = 34, 100 in stock: order 0.
    # Ibuprofen PRN: 2 given in the last 28 days, 2 in stock: order 0.
    # Simvastatin: stopped, left out.
    assert items(order) == {
        "Paracetamol 500mg tablets": 41,
        "Amlodipine 5mg tablets": 0,
        "Ibuprofen 200mg tablets": 0,
    }
    para = order.items.get(line=small_home["para"])
    assert para.proposed == 41 and "69 tablet(s) scheduled to 29 Dec 2026" in para.basis
    assert "28 in stock" in para.basis
    assert AuditEvent.objects.filter(home=home_a, action="order.prepared").count() == 1


def test_prn_by_recent_use_less_stock(small_home, home_a, senior_a, senior2_a):
    services.stock_dispose(
        line=small_home["prn"],
        by=senior_a,
        kind="returned",
        quantity=Decimal(2),
        reason="Damaged strip",
        destination="Boots, High Street",
        witness=senior2_a,
    )
    order = prepare(home_a)
    assert items(order)["Ibuprofen 200mg tablets"] == 2  # 2 used, none left


def test_an_order_is_prepared_once_per_home_and_cycle(small_home, home_a):
    assert prepare(home_a, "06:00") is not None
    assert prepare(home_a, "06:01") is None  # the next run of the job
    assert services.orders_prepare_due() == 0  # the beat job, now
    assert MedicationOrder.objects.filter(home=home_a).count() == 1
    assert OrderItem.objects.filter(order__home=home_a).count() == 3


def test_the_database_refuses_a_second_order_for_the_cycle(small_home, home_a):
    first = prepare(home_a)
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        MedicationOrder.objects.create(
            home=home_a,
            cycle_start=first.cycle_start,
            cycle_end=first.cycle_end,
            order_date=first.order_date,
        )


def test_nothing_is_prepared_before_the_order_date(small_home, home_a):
    assert prepare(home_a, "23:00", DAY - dt.timedelta(days=1)) is None
    assert not MedicationOrder.objects.exists()


def test_the_beat_job_prepares_each_due_home(small_home, home_a):
    from medications import tasks

    assert tasks.orders_prepare.delay().get() == 1
    assert tasks.orders_prepare.delay().get() == 0
    assert MedicationOrder.objects.filter(home=home_a, cycle_start=NEXT_CYCLE).count() == 1


def test_a_senior_changes_a_quantity_with_a_reason(small_home, home_a, senior_a, carer_a):
    order = prepare(home_a)
    item = order.items.get(line=small_home["aml"])
    with pytest.raises(OrderError) as e:
        services.order_item_set(item=item, by=senior_a, quantity=Decimal(28), reason=" ")
    assert e.value.code == "reason_required"
    with pytest.raises(OrderError) as e:
        services.order_item_set(item=item, by=carer_a, quantity=Decimal(28), reason="x")
    assert e.value.code == "not_allowed"
    for bad, code in (
        (Decimal(-1), "quantity_not_positive"),
        (Decimal(10**9), "quantity_too_large"),
    ):
        with pytest.raises(OrderError) as e:
            services.order_item_set(item=item, by=senior_a, quantity=bad, reason="x")
        assert e.value.code == code
    item.refresh_from_db()
    assert item.quantity == 0 and item.changed_by is None
    services.order_item_set(
        item=item, by=senior_a, quantity=Decimal(28), reason="Pack size: keep a month spare"
    )
    item.refresh_from_db()
    assert (item.quantity, item.proposed, item.changed_by) == (28, 0, senior_a)
    event = AuditEvent.objects.get(home=home_a, action="order.item_changed")
    assert event.before == {"quantity": "0.000"} or event.before["quantity"] in (0, "0", "0.000")


def test_an_interim_item_is_a_current_line_with_a_reason(small_home, home_a, senior_a, make_line):
    order = prepare(home_a)
    new = make_line("Amoxicillin 500mg capsules", dose_unit="capsule")
    with pytest.raises(OrderError) as e:
        services.order_item_add(order=order, by=senior_a, line=new, quantity=Decimal(21), reason="")
    assert e.value.code == "reason_required"
    with pytest.raises(OrderError) as e:
        services.order_item_add(
            order=order, by=senior_a, line=small_home["para"], quantity=Decimal(5), reason="x"
        )
    assert e.value.code == "on_order"
    item = services.order_item_add(
        order=order, by=senior_a, line=new, quantity=Decimal(21), reason="New antibiotic course"
    )
    assert item.interim and item.proposed is None


def test_an_empty_order_cannot_be_approved(small_home, home_a, senior_a):
    order = prepare(home_a)
    item = order.items.get(line=small_home["para"])
    services.order_item_set(item=item, by=senior_a, quantity=Decimal(0), reason="Enough at home")
    with pytest.raises(OrderError) as e:
        services.order_approve(order=order, by=senior_a)
    assert e.value.code == "empty_order"
    order.refresh_from_db()
    assert order.status == "prepared" and order.approved_at is None
    assert not mail.outbox


def test_approval_sends_the_pdf_to_the_pharmacy_once(
    small_home, home_a, senior_a, pharmacy, django_capture_on_commit_callbacks
):
    order = prepare(home_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_approve(order=order, by=senior_a)
    order.refresh_from_db()
    assert (order.status, order.pharmacy, order.approved_by) == ("approved", pharmacy, senior_a)
    assert order.emailed_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["orders@boots.example"]
    name, pdf, mimetype = message.attachments[0]
    assert name == f"order-{order.pk}.pdf"
    assert mimetype == "application/pdf" and pdf.startswith(b"%PDF")
    assert services.order_email_send(order_id=order.pk) is False  # a retry sends nothing
    assert len(mail.outbox) == 1
    with pytest.raises(OrderError) as e:
        services.order_item_set(
            item=order.items.first(), by=senior_a, quantity=Decimal(3), reason="late change"
        )
    assert e.value.code == "order_approved"


def test_the_pdf_lists_what_is_ordered(small_home, home_a, senior_a):
    import io

    from pypdf import PdfReader

    order = prepare(home_a)
    services.order_approve(order=order, by=senior_a)
    pages = PdfReader(io.BytesIO(services.order_pdf(order))).pages
    text = " ".join(" ".join(p.extract_text() for p in pages).split())
    assert "Paracetamol 500mg tablets" in text and "41 tablet(s)" in text
    assert "Edith Clarke" in text and "Boots, High Street" in text
    assert "Amlodipine" not in text  # nothing ordered


def test_the_export_is_the_same_data(small_home, home_a, senior_a):
    order = prepare(home_a)
    services.order_approve(order=order, by=senior_a)
    data = services.order_export(order)
    assert data["cycleStart"] == "2026-12-02" and data["pharmacy"] == "Boots, High Street"
    assert [(i["medicine"], i["quantity"]) for i in data["items"]] == [
        ("Paracetamol 500mg tablets", "41")
    ]


def test_a_manager_sets_the_cycle(home_a, manager_a, senior_a, pharmacy, clock):
    with pytest.raises(OrderError) as e:
        services.order_cycle_set(home=home_a, by=senior_a, start=DAY, order_days_before=7)
    assert e.value.code == "not_allowed"
    with pytest.raises(OrderError) as e:
        services.order_cycle_set(home=home_a, by=manager_a, start=DAY, order_days_before=0)
    assert e.value.code == "days_range"
    services.order_cycle_set(
        home=home_a,
        by=manager_a,
        start=dt.date(2026, 11, 4),
        order_days_before=5,
        pharmacy=pharmacy,
        order_email="new@boots.example",
    )
    cycle = services.order_cycle_of(home_a, DAY)
    assert (cycle.start, cycle.next_start, cycle.order_date) == (
        dt.date(2026, 11, 4),
        dt.date(2026, 12, 2),
        dt.date(2026, 11, 27),
    )
    pharmacy.refresh_from_db()
    assert pharmacy.order_email == "new@boots.example"
