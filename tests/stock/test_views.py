"""The stock pages (R-STK-1..6, R-CD-1..3, R-SEC-1): scoped, POST-only writes, 400 on bad
input with nothing written; and the permission matrix for every stock URL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from emar.permissions import MATRIX
from medications import urls as medications_urls
from medications.models import StockCheck, StockMovement, StorageLocation, TemperatureReading
from tests.emar.test_permission_matrix import ROLES, _fill, _request
from tests.factories import TEST_PASSWORD
from tests.stock import url_params as stock_params
from tests.stock.conftest import receive

STOCK_ROUTES = [
    (p.name, str(p.pattern), p.callback)
    for p in medications_urls.urlpatterns
    if p.callback.__module__ == "medications.views.stock"
]


@pytest.fixture
def values(home_a, unit_a, persona, paracetamol):
    out = {"home_id": home_a.pk, "line_id": paracetamol.pk, "resident_id": paracetamol.resident_id}
    out.update(stock_params.build(home=home_a, unit=unit_a, users=persona))
    return out


def test_anonymous_is_sent_to_login_from_every_stock_page(client, values):
    for name, route, _ in STOCK_ROUTES:
        response = _request(client, _fill(route, values))
        assert response.status_code == 302 and response["Location"].startswith("/login/"), name


def test_outsider_gets_404_on_every_stock_page(client, values, carer_b):
    client.force_login(carer_b)
    for name, route, _ in STOCK_ROUTES:
        assert _request(client, _fill(route, values)).status_code == 404, name


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_says_on_stock_pages(client, values, persona, role):
    client.force_login(persona[role])
    for name, route, callback in STOCK_ROUTES:
        allowed = role in MATRIX[callback.emar_perm]
        status = _request(client, _fill(route, values)).status_code
        if allowed:
            assert status not in (403, 404, 500), (name, status)
        else:
            assert status == 403, (name, status)


def test_the_inspector_reads_the_register_but_cannot_book_stock_in(
    client, clock, qualified, oxycodone, senior_a, senior2_a, inspector_a
):
    receive(oxycodone, senior_a, 28, witness=senior2_a)
    client.force_login(inspector_a)
    page = client.get(
        reverse("medications:cd_register", args=[oxycodone.resident_id, oxycodone.medicine_id])
    )
    assert page.status_code == 200 and "Received" in page.content.decode()
    response = client.post(
        reverse("medications:stock_receive", args=[oxycodone.pk]),
        {"quantity": "5", "pharmacy": "Boots"},
    )
    assert response.status_code == 403
    assert StockMovement.objects.count() == 1


def test_booking_a_cd_in_through_the_page_needs_the_witness_password(
    client, clock, qualified, oxycodone, senior_a, senior2_a
):
    client.force_login(senior_a)
    url = reverse("medications:stock_receive", args=[oxycodone.pk])
    data = {"quantity": "28", "pharmacy": "Boots, High Street", "batch": "B1"}
    response = client.post(url, data)
    assert response.status_code == 422 and "witness" in response.content.decode().lower()
    wrong = client.post(url, {**data, "witness_username": "senior2_a", "witness_password": "no"})
    assert wrong.status_code == 400
    assert not StockMovement.objects.exists()
    ok = client.post(
        url, {**data, "witness_username": "senior2_a", "witness_password": TEST_PASSWORD}
    )
    assert ok.status_code == 302
    m = StockMovement.objects.get()
    assert (m.change, m.witness, m.by) == (28, senior2_a, senior_a)


def test_bad_input_is_a_400_with_a_form_error_and_writes_nothing(
    client, clock, qualified, paracetamol, senior_a
):
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:stock_check", args=[paracetamol.pk]), {"counted": "lots"}
    )
    assert response.status_code == 400 and "Enter a number" in response.content.decode()
    response = client.post(
        reverse("medications:stock_receive", args=[paracetamol.pk]), {"quantity": "-3"}
    )
    assert response.status_code == 400
    assert not StockMovement.objects.exists() and not StockCheck.objects.exists()
    assert (
        client.get(
            reverse("medications:stock_reorder", args=[paracetamol.home_id]) + "?threshold=x"
        ).status_code
        == 400
    )
    assert (
        client.get(
            reverse("medications:temperatures", args=[paracetamol.home_id]) + "?month=2026-13"
        ).status_code
        == 400
    )


def test_writes_are_post_only(client, clock, qualified, paracetamol, senior_a):
    client.force_login(senior_a)
    assert (
        client.get(reverse("medications:stock_receive", args=[paracetamol.pk])).status_code == 405
    )


def test_the_stock_page_shows_the_ledger_and_the_reorder_list_the_low_line(
    client, clock, qualified, paracetamol, senior_a
):
    receive(paracetamol, senior_a, 6)  # two a day: three days left
    client.force_login(senior_a)
    page = client.get(reverse("medications:stock_line", args=[paracetamol.pk])).content.decode()
    assert "Balance: 6" in page and "Boots, High Street" in page
    reorder = client.get(
        reverse("medications:stock_reorder", args=[paracetamol.home_id])
    ).content.decode()
    assert "Paracetamol 500mg tablets" in reorder


def test_an_out_of_range_fridge_reading_needs_the_action_taken(
    client, clock, qualified, home_a, senior_a, manager_a
):
    fridge = StorageLocation.objects.create(home=home_a, name="Fridge", kind="fridge")
    client.force_login(senior_a)
    url = reverse("medications:temperatures", args=[home_a.pk])
    data = {
        "location": fridge.pk,
        "current": "9.5",
        "minimum": "4",
        "maximum": "11",
        "reset_confirmed": "on",
    }
    refused = client.post(reverse("medications:temperature_record", args=[home_a.pk]), data)
    assert refused.status_code == 422 and "action taken" in refused.content.decode()
    assert not TemperatureReading.objects.exists()
    saved = client.post(
        reverse("medications:temperature_record", args=[home_a.pk]),
        {**data, "action_taken": "Door left open; pharmacist says stock usable; door closed"},
    )
    assert saved.status_code == 302
    month = client.get(url + f"?location={fridge.pk}").content.decode()
    assert "Out of range." in month and "Door left open" in month


def test_the_cd_register_pdf_renders(client, clock, qualified, oxycodone, senior_a, senior2_a):
    receive(oxycodone, senior_a, 28, witness=senior2_a)
    client.force_login(senior_a)
    response = client.get(
        reverse("medications:cd_register_pdf", args=[oxycodone.resident_id, oxycodone.medicine_id])
    )
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert Decimal(28) == StockMovement.objects.get().balance_after
