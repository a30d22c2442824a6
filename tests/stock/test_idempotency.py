"""Double submits of stock and CD register forms book once (R-STK-1, R-STK-5, R-CD-2, H-5): each
form carries an idempotency key made when it is drawn, and the database's unique rule on the key
decides, even for two requests at the same moment."""

from __future__ import annotations

import re
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from emar.models import AuditEvent
from emar.services import DomainError
from medications import services
from medications.models import Stock, StockCheck, StockMovement, StorageLocation, TemperatureReading
from tests.factories import TEST_PASSWORD
from tests.stock.conftest import receive

KEY = re.compile(r'name="idempotency_key" value="([0-9a-f-]{36})"')


def balance(line) -> Decimal:
    return Stock.objects.get(line=line).balance


def form_key(client, url: str, index: int = 0) -> str:
    """The key a freshly drawn page put in its (index-th) form."""
    return KEY.findall(client.get(url).content.decode())[index]


def test_posting_the_same_cd_receipt_twice_books_28_not_56(
    client, clock, qualified, oxycodone, senior_a, senior2_a
):
    receive(oxycodone, senior_a, 10, witness=senior2_a)
    client.force_login(senior_a)
    key = form_key(client, reverse("medications:stock_line", args=[oxycodone.pk]))
    data = {
        "idempotency_key": key,
        "quantity": "28",
        "pharmacy": "Boots",
        "witness_username": "senior2_a",
        "witness_password": TEST_PASSWORD,
    }
    url = reverse("medications:stock_receive", args=[oxycodone.pk])
    first, second = client.post(url, data), client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert balance(oxycodone) == 38
    assert StockMovement.objects.filter(line=oxycodone, kind="received").count() == 2
    assert AuditEvent.objects.filter(action="stock.received").count() == 2


def test_each_drawing_of_the_page_has_a_new_key_so_two_real_receipts_both_book(
    client, clock, qualified, paracetamol, senior_a
):
    client.force_login(senior_a)
    page = reverse("medications:stock_line", args=[paracetamol.pk])
    keys = [form_key(client, page), form_key(client, page)]
    assert keys[0] != keys[1]
    for key in keys:
        data = {"idempotency_key": key, "quantity": "14", "pharmacy": "Boots"}
        assert (
            client.post(
                reverse("medications:stock_receive", args=[paracetamol.pk]), data
            ).status_code
            == 302
        )
    assert balance(paracetamol) == 28


def test_a_refused_submission_keeps_its_key_and_the_corrected_one_books_once(
    client, clock, qualified, oxycodone, senior_a, senior2_a
):
    client.force_login(senior_a)
    key = str(uuid.uuid4())
    url = reverse("medications:stock_receive", args=[oxycodone.pk])
    data = {"idempotency_key": key, "quantity": "28", "pharmacy": "Boots"}
    refused = client.post(url, data)  # no witness: nothing is written under the key
    assert refused.status_code == 422 and key in refused.content.decode()
    ok = {**data, "witness_username": "senior2_a", "witness_password": TEST_PASSWORD}
    assert client.post(url, ok).status_code == client.post(url, ok).status_code == 302
    assert balance(oxycodone) == 28


def test_every_stock_service_returns_the_first_record_for_the_same_key(
    clock, qualified, oxycodone, senior_a, senior2_a, manager_a, home_a
):
    receive(oxycodone, senior_a, 30, witness=senior2_a)
    key = uuid.uuid4()

    def dispose():
        return services.stock_dispose(
            line=oxycodone,
            by=senior_a,
            kind="destroyed",
            quantity=Decimal(2),
            reason="Dropped",
            witness=senior2_a,
            idempotency_key=key,
        )

    assert dispose().pk == dispose().pk and balance(oxycodone) == 28

    key = uuid.uuid4()

    def check():
        return services.stock_check(
            line=oxycodone, by=senior_a, counted=Decimal(27), witness=senior2_a, idempotency_key=key
        )

    assert check().pk == check().pk and StockCheck.objects.count() == 1
    assert balance(oxycodone) == 27

    first = StockMovement.objects.filter(line=oxycodone).order_by("seq").first()
    key = uuid.uuid4()

    def correct():
        return services.stock_correct(
            movement=first,
            by=senior_a,
            change=Decimal(1),
            reason="Miscounted",
            witness=senior2_a,
            idempotency_key=key,
        )

    assert correct().pk == correct().pk and balance(oxycodone) == 28

    fridge = StorageLocation.objects.create(home=home_a, name="Fridge", kind="fridge")
    key = uuid.uuid4()

    def reading():
        return services.temperature_record(
            location=fridge,
            by=senior_a,
            current=Decimal(5),
            minimum=Decimal(3),
            maximum=Decimal(7),
            reset_confirmed=True,
            idempotency_key=key,
        )

    assert reading().pk == reading().pk and TemperatureReading.objects.count() == 1


def test_a_key_used_for_one_line_cannot_book_on_another(
    clock, qualified, paracetamol, oxycodone, senior_a, senior2_a
):
    key = uuid.uuid4()
    receive(paracetamol, senior_a, 28, idempotency_key=key)
    with pytest.raises(DomainError) as e:
        receive(oxycodone, senior_a, 28, witness=senior2_a, idempotency_key=key)
    assert e.value.code == "key_reused"
    assert not StockMovement.objects.filter(line=oxycodone).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_the_same_cd_receipt_book_once(
    postgres, clock, qualified, oxycodone, senior_a, senior2_a
):
    """Both requests pass the first look-up; the unique rule on the key refuses the second
    insert, its savepoint is undone, and it answers with the first movement (H-5)."""
    receive(oxycodone, senior_a, 10, witness=senior2_a)
    key = uuid.uuid4()
    barrier = threading.Barrier(2)
    results: list[StockMovement] = []
    errors: list[Exception] = []

    def run():
        try:
            barrier.wait()
            results.append(receive(oxycodone, senior_a, 28, witness=senior2_a, idempotency_key=key))
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
    assert len(results) == 2 and results[0].pk == results[1].pk
    assert balance(oxycodone) == 38
    moves = StockMovement.objects.filter(line=oxycodone).order_by("seq")
    assert [m.balance_after for m in moves] == [10, 38]
    assert AuditEvent.objects.filter(action="stock.received").count() == 2
