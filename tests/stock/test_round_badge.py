"""The round screen shows each dose's stock, in words as well as colour (R-STK-2)."""

from __future__ import annotations

from tests.mar.conftest import dose_at
from tests.mar.test_round import post_dose, round_url
from tests.stock.conftest import receive


def test_the_round_shows_the_balance_and_warns_in_words_when_none_is_left(
    client, clock, qualified, home_a, unit_a, paracetamol, make_line, senior_a, carer_a
):
    receive(paracetamol, senior_a, 28)
    make_line("Amlodipine 5mg tablets")  # nothing booked in
    clock("08:05")
    client.force_login(carer_a)
    page = client.get(round_url(home_a, unit_a)).content.decode()
    assert "Stock: 28 tablet(s)" in page
    assert "Stock: 0 tablet(s) — none left on the ledger" in page


def test_a_dose_recorded_in_place_shows_the_new_balance(
    client, clock, qualified, paracetamol, senior_a, carer_a
):
    receive(paracetamol, senior_a, 3)
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    row = post_dose(client, dose, outcome="given").content.decode()
    assert "Stock: 2 tablet(s)" in row and "day" in row  # two a day: about one day left
