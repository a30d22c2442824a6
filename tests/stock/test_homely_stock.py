"""The home's own supply of homely remedies (R-MAR-11: "in stock"): a ledger per remedy, booked
in by a senior, moved by every dose given in the same transaction, never losing an update.

"Today" is DAY (Wednesday 25 Nov 2026) unless a test moves the clock."""

from __future__ import annotations

import itertools
import re
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from emar.models import AuditEvent, Notification, Role
from emar.services import DomainError
from medications import services
from medications.models import HomelyRemedyMovement, HomelyRemedyStock
from residents.models import AllergyStatus
from tests.factories import staff
from tests.mar.test_homely_remedy import authorise, give, remedy_for
from tests.residents.factories import resident

KEY = re.compile(r'name="idempotency_key" value="([0-9a-f-]{36})"')


def balance(remedy) -> Decimal:
    return HomelyRemedyStock.objects.get(remedy=remedy).balance


def book_in(remedy, by, quantity, **kw):
    return services.homely_stock_receive(remedy=remedy, by=by, quantity=Decimal(quantity), **kw)


@pytest.fixture
def remedy(home_a):
    return remedy_for(home_a)


@pytest.fixture
def authorised(resident_a, remedy, senior_a, qualified, clock):
    return authorise(resident_a, remedy, senior_a)


def test_a_senior_books_the_homes_supply_in_and_a_carer_cannot(
    clock, qualified, remedy, senior_a, carer_a
):
    movement = book_in(remedy, senior_a, 32, note="Boots, batch A1")
    assert (movement.kind, movement.change, movement.balance_after) == ("received", 32, 32)
    assert balance(remedy) == 32
    assert AuditEvent.objects.filter(action="stock.homely_received").count() == 1
    for quantity, code in ((0, "quantity_not_positive"), (-3, "quantity_not_positive")):
        with pytest.raises(DomainError) as e:
            book_in(remedy, senior_a, quantity)
        assert e.value.code == code
    with pytest.raises(DomainError) as e:
        book_in(remedy, senior_a, 100000)
    assert e.value.code == "quantity_too_large"
    with pytest.raises(DomainError) as e:
        book_in(remedy, carer_a, 10)
    assert e.value.code == "not_allowed"
    assert balance(remedy) == 32


def test_a_dose_given_moves_the_homes_supply_in_the_same_transaction(
    clock, resident_a, remedy, authorised, senior_a, carer_a
):
    book_in(remedy, senior_a, 32)
    clock("14:00")
    dose = give(resident_a, remedy, carer_a, quantity=Decimal(2))
    assert balance(remedy) == 30
    movement = HomelyRemedyMovement.objects.get(dose=dose)
    assert (movement.kind, movement.change, movement.by) == ("given", -2, carer_a)
    assert dose.stock_warning == ""
    # The same form again records nothing more, in the MAR or in stock.
    again = give(
        resident_a, remedy, carer_a, quantity=Decimal(2), idempotency_key=dose.idempotency_key
    )
    assert again.pk == dose.pk and balance(remedy) == 30


def test_the_ledger_adds_up_and_the_database_refuses_one_that_does_not(
    clock, resident_a, remedy, authorised, senior_a, carer_a
):
    book_in(remedy, senior_a, 10)
    clock("08:00")
    give(resident_a, remedy, carer_a, quantity=Decimal(2))
    clock("14:00")
    give(resident_a, remedy, carer_a)
    book_in(remedy, senior_a, 5)
    moves = list(HomelyRemedyMovement.objects.filter(remedy=remedy).order_by("seq"))
    assert [m.seq for m in moves] == [1, 2, 3, 4]
    running = Decimal(0)
    for m in moves:
        assert m.balance_before == running and m.balance_after == running + m.change
        running = m.balance_after
    assert running == balance(remedy) == 12
    last = moves[-1]
    with pytest.raises(IntegrityError), transaction.atomic():
        HomelyRemedyMovement.objects.create(
            home=last.home, remedy=remedy, seq=9, kind="received", change=1,
            balance_before=12, balance_after=20, at=last.at, by=senior_a,
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        HomelyRemedyMovement.objects.create(
            home=last.home, remedy=remedy, seq=9, kind="adjusted", change=0,
            balance_before=12, balance_after=12, at=last.at, by=senior_a, dose=moves[1].dose,
        )  # fmt: skip


def test_a_dose_the_ledger_cannot_cover_still_records_goes_negative_and_warns(
    clock, resident_a, remedy, authorised, senior_a, carer_a, manager_a
):
    book_in(remedy, senior_a, 1)
    clock("14:00")
    dose = give(resident_a, remedy, carer_a, quantity=Decimal(2))
    assert balance(remedy) == -1
    assert HomelyRemedyMovement.objects.get(dose=dose).balance_after == -1
    assert "the ledger did not hold this dose" in dose.stock_warning
    note = Notification.objects.get(kind="stock_negative_balance", recipient=manager_a)
    assert "Paracetamol" in note.title


def test_giving_from_the_round_shows_the_stock_warning(
    client, clock, resident_a, remedy, authorised, carer_a
):
    clock("14:00")
    client.force_login(carer_a)
    url = reverse("medications:homely_remedy", args=[resident_a.pk])
    response = client.post(
        url,
        {
            "remedy": remedy.pk,
            "quantity": "1",
            "reason": "Headache",
            "idempotency_key": uuid.uuid4(),
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "the ledger did not hold this dose" in response.content.decode()
    assert balance(remedy) == -1


def test_a_double_submit_of_the_receive_form_books_once(client, clock, qualified, remedy, senior_a):
    client.force_login(senior_a)
    page = client.get(reverse("medications:homely_stock", args=[remedy.home_id]))
    assert page.status_code == 200 and "Paracetamol" in page.content.decode()
    key = KEY.findall(page.content.decode())[0]
    data = {"idempotency_key": key, "remedy": remedy.pk, "quantity": "32", "note": "Boots"}
    url = reverse("medications:homely_stock_receive", args=[remedy.home_id])
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert balance(remedy) == 32
    assert HomelyRemedyMovement.objects.filter(remedy=remedy).count() == 1
    bad = client.post(url, {**data, "idempotency_key": uuid.uuid4(), "quantity": "0"})
    assert bad.status_code == 422 and "more than zero" in bad.content.decode()
    assert client.post(url, {**data, "quantity": "x"}).status_code == 400
    assert balance(remedy) == 32


def test_the_stock_overview_links_to_the_homely_remedies_page(client, clock, senior_a, home_a):
    client.force_login(senior_a)
    page = client.get(reverse("medications:stock_overview", args=[home_a.pk])).content.decode()
    assert reverse("medications:homely_stock", args=[home_a.pk]) in page


def test_an_outsider_gets_404_and_cannot_book_another_homes_remedy(
    client, clock, qualified, remedy, home_b
):
    senior_b = staff(home_b, Role.SENIOR, username="senior_b")
    client.force_login(senior_b)
    assert client.get(reverse("medications:homely_stock", args=[remedy.home_id])).status_code == 404
    url = reverse("medications:homely_stock_receive", args=[remedy.home_id])
    data = {"remedy": remedy.pk, "quantity": "5", "idempotency_key": uuid.uuid4()}
    assert client.post(url, data).status_code == 404
    # Through their own home the remedy is not on the list to choose.
    own = client.post(reverse("medications:homely_stock_receive", args=[home_b.pk]), data)
    assert own.status_code == 400
    assert not HomelyRemedyStock.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_doses_and_a_receipt_at_the_same_moment_all_move_the_balance(
    postgres, clock, qualified, unit_a, resident_a, remedy, senior_a, carer_a, senior2_a
):
    """The remedy's stock row is locked by each writer: no update is lost, no seq repeats."""
    other = resident(
        unit_a,
        senior_a,
        full_name="Arthur Penn",
        room="14",
        allergy_status=AllergyStatus.NONE_KNOWN,
    )
    for person in (resident_a, other):
        authorise(person, remedy, senior_a)
    book_in(remedy, senior_a, 10)
    clock("14:00")
    barrier = threading.Barrier(3)
    errors: list[Exception] = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as e:
            errors.append(e)
        finally:
            connection.close()

    calls = [
        lambda: give(resident_a, remedy, carer_a),
        lambda: give(other, remedy, senior2_a),
        lambda: book_in(remedy, senior_a, 5, idempotency_key=uuid.uuid4()),
    ]
    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert balance(remedy) == 13
    moves = list(HomelyRemedyMovement.objects.filter(remedy=remedy).order_by("seq"))
    assert [m.seq for m in moves] == [1, 2, 3, 4]
    assert all(a.balance_after == b.balance_before for a, b in itertools.pairwise(moves))
