"""R-CD-2 / R-REL-1: a wrong ledger entry is put right from the stock page by a dated
correcting entry; a refused correction shows the page again with the message beside that entry
and writes nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.urls import reverse

from medications.models import StockMovement
from tests.factories import TEST_PASSWORD
from tests.stock.conftest import receive


def _correct(client, movement, **data):
    data = {"idempotency_key": str(uuid.uuid4()), "change": "-2", "reason": "Miscounted", **data}
    return client.post(reverse("medications:stock_correct", args=[movement.pk]), data)


def test_each_ledger_entry_has_a_correct_form_for_who_manages_stock(
    client, clock, qualified, paracetamol, senior_a, carer_a
):
    entry = receive(paracetamol, senior_a, 28)
    page = reverse("medications:stock_line", args=[paracetamol.pk])
    client.force_login(senior_a)
    html = client.get(page).content.decode()
    assert f'action="{reverse("medications:stock_correct", args=[entry.pk])}"' in html
    assert f"Correct #{entry.seq}" in html
    assert 'name="witness_username"' in html and 'type="hidden" name="witness_username"' in html
    client.force_login(carer_a)  # reads stock, cannot correct it
    assert (
        reverse("medications:stock_correct", args=[entry.pk])
        not in client.get(page).content.decode()
    )


def test_a_correction_from_the_page_adds_an_entry_and_keeps_the_original(
    client, clock, qualified, paracetamol, senior_a
):
    entry = receive(paracetamol, senior_a, 28)
    client.force_login(senior_a)
    response = _correct(client, entry)
    assert response.status_code == 302
    correction = StockMovement.objects.get(corrects=entry)
    assert correction.balance_after == Decimal(26)
    entry.refresh_from_db()
    assert entry.balance_after == Decimal(28)


def test_a_refused_correction_is_the_page_with_the_message_and_writes_nothing(
    client, clock, qualified, paracetamol, senior_a
):
    entry = receive(paracetamol, senior_a, 28)
    client.force_login(senior_a)
    for data, status, message in (
        ({"reason": ""}, 400, "This field is required."),
        ({"change": "0"}, 422, "Enter how much the entry was out by"),
        ({"change": "9" * 40}, 400, "Ensure that there are no more than"),
        ({"reason": "a\x00b"}, 400, "Null characters are not allowed."),
    ):
        response = _correct(client, entry, **data)
        html = response.content.decode()
        assert response.status_code == status, data
        assert "text/html" in response["Content-Type"]
        assert message in html, data
        assert f'id="id_correct{entry.pk}_change"' in html
        assert '<details class="stock-correct" open>' in html  # the entry's form stays open
    assert StockMovement.objects.filter(corrects=entry).count() == 0


def test_a_cd_correction_asks_for_a_witness_on_the_page(
    client, clock, qualified, oxycodone, senior_a, senior2_a
):
    entry = receive(oxycodone, senior_a, 28, witness=senior2_a)
    client.force_login(senior_a)
    html = client.get(reverse("medications:stock_line", args=[oxycodone.pk])).content.decode()
    assert f'id="id_correct{entry.pk}_witness_username"' in html
    assert 'type="hidden" name="witness_username"' not in html
    refused = _correct(client, entry)
    assert refused.status_code == 422 and "witness" in refused.content.decode().lower()
    done = _correct(client, entry, witness_username="senior2_a", witness_password=TEST_PASSWORD)
    assert done.status_code == 302
    assert StockMovement.objects.get(corrects=entry).witness == senior2_a
