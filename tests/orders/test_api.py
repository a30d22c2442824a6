"""Approved orders through the API (R-ORD-1, R-FHIR-3, R-FHIR-5): one FHIR SupplyRequest per
item; a supplying pharmacy's token reads its homes' approved orders, and is refused (403) the
orders of a home it does not supply."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest

from medications import services
from tests.fhir_api.conftest import Api, issue_code, token_for

from .conftest import NEXT_CYCLE


@pytest.fixture
def approved(clock, qualified, home_a, make_line, senior_a, cycle):
    make_line("Paracetamol 500mg tablets")
    clock("10:00")
    order, _ = services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)
    services.order_item_change(
        item=order.items.get(), by=senior_a, quantity=Decimal(56), reason="Round up to packs"
    )
    return services.order_approve(order=order, by=senior_a)


@pytest.fixture
def boots(client, pharmacy):
    return Api(client, token_for(pharmacy.account))


def test_the_pharmacy_reads_its_homes_approved_orders(boots, approved, home_a):
    response = boots.get("SupplyRequest", home=str(home_a.pk))  # validates (R-FHIR-3)
    assert response.status_code == 200
    (entry,) = response.body["entry"]
    resource = entry["resource"]
    assert resource["resourceType"] == "SupplyRequest"
    assert resource["identifier"][0]["value"] == approved.number
    assert resource["quantity"]["value"] == 56
    coding = resource["itemCodeableConcept"]["coding"][0]
    assert coding["system"] == "https://dmd.nhs.uk"
    assert coding["display"] == "Paracetamol 500mg tablets"
    assert resource["deliverTo"]["display"] == "Edith Clarke"
    assert "Round up to packs" in resource["reasonCode"][0]["text"]
    assert resource["occurrencePeriod"] == {"start": "2026-12-02", "end": "2026-12-29"}
    read = boots.get(f"SupplyRequest/{resource['id']}")
    assert read.status_code == 200


def test_a_draft_order_is_not_shown(boots, clock, home_a, make_line, cycle):
    make_line()
    clock("10:00")
    services.order_prepare(home=home_a, cycle_start=NEXT_CYCLE)
    assert boots.get("SupplyRequest").body["total"] == 0


def test_another_homes_orders_are_a_403(boots, approved, home_b):
    response = boots.get("SupplyRequest", home=str(home_b.pk))
    assert response.status_code == 403
    assert issue_code(response) == "not_your_home"


def test_the_pharmacy_still_reads_nothing_else(boots, resident_a, approved):
    response = boots.get(f"Patient/{resident_a.pk}")
    assert response.status_code == 403
    assert issue_code(response) == "pharmacy_cannot_read"


def test_staff_of_another_home_see_none_of_them(client, approved, carer_b, carer_a):
    assert Api(client, token_for(carer_b)).get("SupplyRequest").body["total"] == 0
    assert Api(client, token_for(carer_a)).get("SupplyRequest").body["total"] == 1


def test_the_pharmacy_command_sets_where_orders_are_emailed(home_a):
    from django.core.management import CommandError, call_command

    from medications.models import Pharmacy

    out = StringIO()
    call_command(
        "pharmacy", "Boots, Mill Lane", "--home", home_a.name, "--email", "o@b.test", stdout=out
    )
    assert Pharmacy.objects.get(name="Boots, Mill Lane").email == "o@b.test"
    with pytest.raises(CommandError):
        call_command("pharmacy", "Boots, Mill Lane", "--home", home_a.name, "--email", "nope")
