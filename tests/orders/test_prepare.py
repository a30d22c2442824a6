"""Order preparation (R-ORD-1, R-STK-4): quantities against a hand count on a small home, once
per home and cycle, reviewed and approved by a senior; the email to the pharmacy goes once."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.core import mail

from emar.models import AuditEvent
from medications import services
from medications.models import ItemBasis, MedicineOrder, OrderItem, OrderStatus
from medications.services import OrderError
from tests.mar.conftest import DAY, at_local, key, prn_protocol
from tests.medications.factories import line, times
from tests.residents.factories import resident

from .conftest import NEXT_CYCLE, receive


@pytest.fixture
def small_home(clock, qualified, home_a, unit_a, resident_a, make_line, senior_a, carer_a, cycle):
    """Edith: paracetamol twice a day (30 in stock), amlodipine each morning (none), ibuprofen
    PRN (6 received, 5 given this month), naproxen stopped. Fred: a line awaiting its check."""
    paracetamol = make_line("Paracetamol 500mg tablets")
    receive(paracetamol, senior_a, 30)
    amlodipine = make_line("Amlodipine 5mg tablets", schedule=times("08:00"))
    ibuprofen = make_line("Ibuprofen 200mg tablets", prn=True, dose=Decimal(1), dose_max=Decimal(2))
    prn_protocol(ibuprofen, senior_a)
    receive(ibuprofen, senior_a, 6)
    naproxen = make_line("Naproxen 250mg tablets")
    receive(naproxen, senior_a, 10)
    services.line_stop(line=naproxen, by=senior_a, reason="Stomach upset", authorised_by="Dr Shah")
    fred = resident(unit_a, senior_a, full_name="Fred Barnes", room="3")
    unchecked = line(fred, senior_a, name="Amlodipine 10mg tablets")
    for day, n in ((DAY - dt.timedelta(days=2), 2), (DAY - dt.timedelta(days=1), 2), (DAY, 1)):
        clock("09:00", day)
        services.administration_record(
            line=ibuprofen,
            by=carer_a,
            outcome="given",
            quantity=Decimal(n),
            prn_reason="Knee pain",
            idempotency_key=key(),
        )
    clock("10:00")
    return {
        "paracetamol": paracetamol,
        "amlodipine": amlodipine,
        "ibuprofen": ibuprofen,
        "naproxen": naproxen,
        "unchecked": unchecked,
    }


def _quantities(order) -> dict[str, Decimal]:
    return {i.medicine.name: i.quantity for i in order.items.select_related("medicine")}


def test_quantities_match_a_hand_count(home_a, small_home):
    """At 10:00 on 25 Nov, for the cycle 2 Dec to 29 Dec:
    paracetamol 2 a day: 20:00 today, then 26 Nov to 29 Dec (34 days x 2) = 69, less 30 = 39;
    amlodipine 1 a day: 26 Nov to 29 Dec = 34, none in stock = 34;
    ibuprofen PRN: 5 given in the last 28 days, 1 left = 4;
    naproxen is stopped, Fred's amlodipine 10 mg is not checked: neither is ordered."""
    order, created = services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)
    assert created
    assert _quantities(order) == {
        "Paracetamol 500mg tablets": Decimal(39),
        "Amlodipine 5mg tablets": Decimal(34),
        "Ibuprofen 200mg tablets": Decimal(4),
    }
    bases = {i.medicine.name: i.basis for i in order.items.select_related("medicine")}
    assert bases["Ibuprofen 200mg tablets"] == ItemBasis.PRN
    assert bases["Paracetamol 500mg tablets"] == ItemBasis.SCHEDULED
    assert order.cycle_end == dt.date(2026, 12, 29)
    assert order.pharmacy.name == "Boots, High Street"
    assert order.status == OrderStatus.DRAFT


def test_the_job_prepares_once_on_the_order_date(home_a, small_home, clock):
    clock("10:00", DAY - dt.timedelta(days=1))
    assert services.orders_due_prepare() == 0  # the day before the order date
    clock("10:00")
    assert services.orders_due_prepare() == 1
    assert services.orders_due_prepare() == 0
    order = MedicineOrder.objects.get(home=home_a)
    assert order.cycle_start == NEXT_CYCLE
    assert OrderItem.objects.filter(order=order).count() == 3


def test_a_second_preparation_of_the_same_cycle_makes_nothing(home_a, small_home, senior_a):
    first, _ = services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)
    events = AuditEvent.objects.count()
    again, created = services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE, by=senior_a)
    assert (again.pk, created) == (first.pk, False)
    assert OrderItem.objects.count() == 3
    assert AuditEvent.objects.count() == events


# --- review --------------------------------------------------------------------------------------


@pytest.fixture
def order(home_a, small_home):
    return services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)[0]


@pytest.mark.parametrize("bad", [Decimal(-1), Decimal(0), Decimal(10) ** 9])
def test_a_quantity_out_of_bounds_is_refused(order, senior_a, bad):
    item = order.items.first()
    with pytest.raises(OrderError) as e:
        services.order_item_change(item=item, by=senior_a, quantity=bad, reason="Count")
    assert e.value.code in ("quantity_not_positive", "quantity_too_large")
    item.refresh_from_db()
    assert item.quantity == item.proposed


def test_a_change_needs_a_reason_and_is_audited(order, senior_a):
    item = order.items.get(medicine__name="Amlodipine 5mg tablets")
    with pytest.raises(OrderError) as e:
        services.order_item_change(item=item, by=senior_a, quantity=Decimal(28), reason=" ")
    assert e.value.code == "reason_required"
    services.order_item_change(
        item=item, by=senior_a, quantity=Decimal(28), reason="7 in the cupboard"
    )
    item.refresh_from_db()
    assert (item.quantity, item.proposed, item.changed_by) == (Decimal(28), Decimal(34), senior_a)
    event = AuditEvent.objects.filter(action="order.item_changed").get()
    assert event.before["quantity"] == "34.000"


def test_a_carer_cannot_change_or_approve(order, carer_a):
    with pytest.raises(OrderError) as e:
        services.order_approve(order=order, by=carer_a)
    assert e.value.code == "not_allowed"


def test_an_interim_item_is_added_once(order, senior_a, small_home):
    naproxen = small_home["naproxen"]
    with pytest.raises(OrderError) as e:
        services.order_item_add(
            order=order, line=naproxen, by=senior_a, quantity=Decimal(10), reason="x"
        )
    assert e.value.code == "line_not_live"
    k = uuid.uuid4()
    amlodipine = small_home["amlodipine"]
    with pytest.raises(OrderError) as e:
        services.order_item_add(
            order=order, line=amlodipine, by=senior_a, quantity=Decimal(1), reason="x"
        )
    assert e.value.code == "duplicate"
    OrderItem.objects.filter(order=order, line=amlodipine).delete()
    first = services.order_item_add(
        order=order,
        line=amlodipine,
        by=senior_a,
        quantity=Decimal(14),
        reason="New dose",
        idempotency_key=k,
    )
    again = services.order_item_add(
        order=order,
        line=amlodipine,
        by=senior_a,
        quantity=Decimal(14),
        reason="New dose",
        idempotency_key=k,
    )
    assert first.pk == again.pk and first.basis == ItemBasis.INTERIM


def test_an_empty_order_cannot_be_approved(home_a, cycle, senior_a, clock):
    clock("10:00")
    order, _ = services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)
    with pytest.raises(OrderError) as e:
        services.order_approve(order=order, by=senior_a)
    assert e.value.code == "empty_order"
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_approval_emails_the_pdf_to_the_pharmacy_once(
    order, senior_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.order_approve(order=order, by=senior_a)
    order.refresh_from_db()
    assert order.status == OrderStatus.APPROVED and order.approved_by == senior_a
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["orders@boots.test"]
    assert order.number in message.subject
    _name, content, mimetype = message.attachments[0]
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    assert services.order_email_send(order_id=order.pk) is False
    assert len(mail.outbox) == 1
    with pytest.raises(OrderError) as e:
        services.order_item_change(
            item=order.items.first(), by=senior_a, quantity=Decimal(3), reason="late"
        )
    assert e.value.code == "approved"


def test_an_order_date_in_british_summer_time_uses_the_homes_day(home_a, cycle, clock):
    """The order date is the home's local day (at 23:30 UTC on 30 Mar it is already the next
    day in London)."""
    cycle.start_date = dt.date(2026, 3, 10)  # cycles 10 Mar, 7 Apr: ordered on 31 Mar
    cycle.save()
    clock("00:30", dt.date(2026, 3, 31))  # 23:30 UTC on 30 Mar
    assert at_local(home_a, dt.date(2026, 3, 31), "00:30").utcoffset() == dt.timedelta(hours=1)
    assert services.orders_due_prepare() == 1
    assert MedicineOrder.objects.get().cycle_start == dt.date(2026, 4, 7)
