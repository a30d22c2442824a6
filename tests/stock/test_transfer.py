"""The supply follows the medicine (R-STK-8): a dose change moves the balance to the new line by
a transfer entry on both ledgers and on the CD register, never a pretend return or disposal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from emar.models import AuditEvent
from medications import services
from medications.models import Stock, StockMovement
from medications.services import StockError
from tests.stock.conftest import receive

pytestmark = pytest.mark.usefixtures("postgres")


def replace(line, make_line, senior_a, name=None, **kw):
    """Stop the line (dose change) and enter the new dose as a new, checked line."""
    services.line_stop(line=line, by=senior_a, reason="Dose change", authorised_by="Dr Patel")
    return make_line(name or line.medicine.name, dose=Decimal(2), **kw)


def test_a_dose_change_moves_the_balance_by_a_transfer_on_both_ledgers(
    clock, qualified, paracetamol, make_line, senior_a
):
    receive(paracetamol, senior_a, 28)
    new = replace(paracetamol, make_line, senior_a)
    out = services.stock_transfer(from_line=paracetamol, to_line=new, by=senior_a)
    into = StockMovement.objects.get(line=new)
    assert (out.kind, out.change, out.balance_after) == ("transfer_out", Decimal(-28), 0)
    assert (into.kind, into.change, into.balance_after) == ("transfer_in", Decimal(28), 28)
    assert out.transfer_line == new and into.transfer_line == paracetamol
    assert Stock.objects.get(line=paracetamol).balance == 0
    assert Stock.objects.get(line=new).balance == 28
    # No pretend return, destruction or adjustment.
    kinds = set(StockMovement.objects.values_list("kind", flat=True))
    assert kinds == {"received", "transfer_out", "transfer_in"}
    assert AuditEvent.objects.filter(action__startswith="stock.transfer").count() == 2
    with pytest.raises(StockError) as err:
        services.stock_transfer(from_line=paracetamol, to_line=new, by=senior_a)
    assert err.value.code == "nothing_to_transfer"


def test_a_cd_transfer_needs_a_witness_and_shows_on_the_register(
    clock, qualified, oxycodone, make_line, senior_a, senior2_a, resident_a
):
    receive(oxycodone, senior_a, 20, witness=senior2_a)
    new = replace(oxycodone, make_line, senior_a, dose_unit="capsule")
    with pytest.raises(StockError) as err:
        services.stock_transfer(from_line=oxycodone, to_line=new, by=senior_a)
    assert err.value.code == "witness_required"
    services.stock_transfer(from_line=oxycodone, to_line=new, by=senior_a, witness=senior2_a)
    entries = services.cd_register_entries(resident=resident_a, medicine=oxycodone.medicine)
    assert [(e.what, e.balance) for e in entries] == [
        ("Received", Decimal(20)),
        ("Transferred", Decimal(0)),
        ("Transferred", Decimal(20)),
    ]
    assert all(e.movement.witness == senior2_a for e in entries[1:])


def test_a_transfer_to_another_product_or_by_a_carer_is_refused(
    clock, qualified, paracetamol, make_line, senior_a, carer_a
):
    receive(paracetamol, senior_a, 28)
    other = make_line("Ibuprofen 200mg tablets")
    with pytest.raises(StockError) as err:
        services.stock_transfer(from_line=paracetamol, to_line=other, by=senior_a)
    assert err.value.code == "other_product"
    with pytest.raises(StockError) as err:
        services.stock_transfer(from_line=paracetamol, to_line=other, by=carer_a)
    assert err.value.code == "not_allowed"
    assert StockMovement.objects.count() == 1
