"""The demo stock (R-RUN-4): the balance equation over every line of the whole demo data set,
the CD register PDF of a demo resident, temperatures with one excursion (R-STK-1, R-CD-1)."""

from __future__ import annotations

import itertools
import subprocess
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse

from emar.models import User
from medications import services
from medications.models import (
    Administration,
    LineStatus,
    PrescriptionLine,
    Stock,
    StockCheck,
    StockMovement,
    TemperatureReading,
)


@pytest.fixture
def demo(demo_db):
    return demo_db


def _sum(qs, kind) -> Decimal:
    return qs.filter(kind=kind).aggregate(s=Sum("change"))["s"] or Decimal(0)


def test_the_balance_equation_holds_for_every_line_of_the_demo(demo):
    lines = PrescriptionLine.objects.filter(status=LineStatus.ACTIVE)
    assert lines.count() > 20
    for line in lines:
        stock = Stock.objects.get(line=line)
        moves = StockMovement.objects.filter(line=line)
        carried, received = _sum(moves, "carried_forward"), _sum(moves, "received")
        administered, destroyed = -_sum(moves, "administered"), -_sum(moves, "destroyed")
        returned, adjusted = -_sum(moves, "returned"), _sum(moves, "adjusted")
        assert stock.balance == (
            carried + received - administered - destroyed - returned + adjusted
        ), line
        chain = list(moves.order_by("seq"))
        assert [m.seq for m in chain] == list(range(1, len(chain) + 1))
        for before, after in itertools.pairwise(chain):
            assert after.balance_before == before.balance_after
        assert chain[-1].balance_after == stock.balance and stock.seq == len(chain)
        # administered movements match the MAR records in force
        given = Administration.objects.filter(
            line=line, outcome="given", corrects__isnull=True
        ).aggregate(s=Sum("quantity"))["s"] or Decimal(0)
        assert administered == given, line
    assert not Stock.objects.filter(balance__lt=0).exists()


def test_the_demo_has_a_reorder_list_a_cd_check_and_a_fridge_excursion(demo):
    from emar.models import CareHome

    home = CareHome.objects.get(name="Demo Care Home")
    assert services.stock_reorder_list(home=home)
    assert StockCheck.objects.filter(home=home, line__medicine__cd_register=True).exists()
    excursions = [r for r in TemperatureReading.objects.filter(home=home) if r.out_of_range]
    assert len(excursions) == 1 and excursions[0].action_taken


def test_running_the_demo_twice_duplicates_no_stock(demo):
    before = StockMovement.objects.count(), TemperatureReading.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert (StockMovement.objects.count(), TemperatureReading.objects.count()) == before


def test_the_cd_register_pdf_of_a_demo_resident_lists_every_movement(demo, client, tmp_path):
    stock = (
        Stock.objects.filter(line__medicine__cd_register=True, home__name="Demo Care Home")
        .order_by("-seq")
        .select_related("line")
        .first()
    )
    line = stock.line
    entries = services.cd_register_entries(resident=line.resident, medicine=line.medicine)
    moves = StockMovement.objects.filter(resident=line.resident, line__medicine=line.medicine)
    assert len(entries) == moves.count() > 20
    kinds = {e.movement.kind for e in entries}
    assert {"carried_forward", "received", "administered", "adjusted"} <= kinds
    assert all(e.movement.witness_id for e in entries if e.movement.kind == "administered")
    client.force_login(User.objects.get(username="inspector"))
    url = reverse("medications:cd_register_pdf", args=[line.resident_id, line.medicine_id])
    response = client.get(url)
    assert response.status_code == 200
    pdf = tmp_path / "cd.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "CONTROLLED DRUGS REGISTER" in text.upper() and line.medicine.name in text
    assert text.count("Administered") == moves.filter(kind="administered").count()
    assert f"{stock.balance.normalize():f}" in text
