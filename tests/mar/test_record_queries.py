"""One tap on the round (SPEC §11): the recorded row and the round's counts come back
in one response, for a fixed number of queries."""

from __future__ import annotations

import uuid

from django.urls import reverse

from tests.mar.conftest import dose_at
from tests.stock.conftest import receive

# Session, user and roles (3); the dose, its records and allergy matches (3); the record, in
# its transaction (16, of which 2 are the savepoint pair the test's own transaction turns its
# BEGIN/COMMIT into): idempotency key, line lock, gate (3, once per request), allergies (read
# once per request, the row reuses them), the insert in its savepoint (3), stock row, movement
# and balance (3), the audit chain (lock, then link and head in one statement: 2); no void
# check (the dose was read with no record), no digest read-back (taken from the rows just
# written); the row: the stock badge (2); the round's counts (1, values). Was 41 plus a whole round
# page per tap, then 31, then 26 (SPEC §11).
RECORD_QUERIES = 25


def tap(client, dose, page: str | None):
    headers = {"HTTP_HX_REQUEST": "true"}
    if page is not None:
        headers["HTTP_HX_CURRENT_URL"] = f"http://testserver{page}"
    return client.post(
        reverse("medications:dose_record", args=[dose.pk]),
        {"idempotency_key": str(uuid.uuid4()), "outcome": "given"},
        **headers,
    )


def round_page(dose, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"unit": dose.unit_id, **params}.items())
    return f"{reverse('medications:round', args=[dose.home_id])}?{query}"


def test_a_tap_answers_with_the_row_and_the_rounds_counts(
    client, clock, qualified, paracetamol, carer_a
):
    morning, evening = dose_at(paracetamol, "08:00"), dose_at(paracetamol, "20:00")
    clock("08:05")
    client.force_login(carer_a)
    response = tap(client, morning, round_page(morning))
    assert response.status_code == 200
    assert "HX-Trigger" not in response  # the page does not fetch itself again
    html = response.content.decode()
    assert f'id="dose-{morning.pk}"' in html and "Given" in html
    counts = html[html.index('id="round-counts"') :]
    assert 'hx-swap-oob="true"' in counts
    assert "1 given" in counts and "0 due now" in counts
    # the 08:00 round's page leaves out the 20:00 dose; the whole day counts it
    assert "0 upcoming" in counts and evening.round_id != morning.round_id


def test_from_the_whole_day_the_counts_are_the_days(client, clock, qualified, paracetamol, carer_a):
    morning = dose_at(paracetamol, "08:00")
    dose_at(paracetamol, "20:00")
    clock("08:05")
    client.force_login(carer_a)
    html = tap(client, morning, round_page(morning, round="all")).content.decode()
    counts = html[html.index('id="round-counts"') :]
    assert "1 given" in counts and "1 upcoming" in counts


def test_a_refusal_answers_with_the_counts_as_they_now_are(
    client, clock, qualified, paracetamol, carer_a, senior_a
):
    """R-OFF-2: a record sent late (offline) finds the dose given by someone else meanwhile;
    the round's header must say so with the conflict."""
    morning = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(senior_a)
    assert tap(client, morning, None).status_code == 200
    client.force_login(carer_a)
    response = tap(client, morning, round_page(morning))
    assert response.status_code == 409
    html = response.content.decode()
    assert f"Already recorded by {senior_a}" in html
    counts = html[html.index('id="round-counts"') :]
    assert 'hx-swap-oob="true"' in counts
    assert "1 given" in counts and "0 due now" in counts


def test_from_the_dose_page_no_counts_are_sent(client, clock, qualified, paracetamol, carer_a):
    morning = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    page = reverse("medications:dose", args=[morning.pk])
    html = tap(client, morning, page).content.decode()
    assert "Given" in html and "round-counts" not in html


def test_recording_from_the_round_has_a_fixed_query_count(
    client, clock, qualified, paracetamol, carer_a, senior_a, django_assert_max_num_queries
):
    receive(paracetamol, senior_a, "56")  # given moves stock: the ledger's queries count too
    morning = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    with django_assert_max_num_queries(RECORD_QUERIES):
        response = tap(client, morning, round_page(morning))
    assert response.status_code == 200 and "1 given" in response.content.decode()
