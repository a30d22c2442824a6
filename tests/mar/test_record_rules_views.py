"""The recording rules over HTTP: the round row, the PRN page and the correction page show the
fields a rule needs only when it is needed, and refuse with a 4xx and a message
(R-MAR-3, R-MAR-4, R-MAR-8, R-MAR-13, R-MAR-14, R-MAR-15, R-MAR-16)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.urls import reverse

from medications.models import Administration
from residents.services import allergy_add
from tests.factories import TEST_PASSWORD
from tests.mar.conftest import DAY, at_local, code, dose_at, prn_protocol
from tests.mar.test_round import post_dose, round_url
from tests.medications.factories import times


def test_a_gated_carer_sees_a_read_only_round_with_the_reason(
    client, clock, paracetamol, carer_a, home_a, unit_a
):
    dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)  # no training (R-MAR-13)
    page = client.get(round_url(home_a, unit_a, round="all", date=DAY.isoformat())).content
    html = page.decode()
    assert "Read-only for you" in html and "ask a senior" in html
    assert 'name="outcome" value="not_given"' not in html
    assert 'name="outcome" value="given"' not in html


def test_a_gated_carer_cannot_post_not_given(client, clock, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    response = post_dose(client, dose, outcome="not_given", code=code(dose.home, "R").pk)
    assert response.status_code == 422 and "Not saved" in response.content.decode()
    assert not Administration.objects.exists()


def test_early_not_given_is_refused_with_what_to_do(client, clock, qualified, make_line, carer_a):
    night = make_line(schedule=times("22:00"))
    dose = dose_at(night, "22:00")
    clock("02:29")
    client.force_login(carer_a)
    response = post_dose(client, dose, outcome="not_given", code=code(dose.home, "R").pk)
    assert response.status_code == 422
    assert "not due yet" in response.content.decode()
    assert not Administration.objects.exists()


def test_a_time_after_midnight_means_yesterday_evening(
    client, clock, qualified, make_line, carer_a
):
    night = make_line(schedule=times("22:00"))
    dose = dose_at(night, "22:00")
    clock("00:30", DAY.replace(day=26))
    client.force_login(carer_a)
    response = post_dose(client, dose, given_time="22:10", late_reason="Tablet was flat")
    assert response.status_code == 200
    assert Administration.objects.get().administered_at == at_local(dose.home, DAY, "22:10")


def test_a_different_amount_needs_a_reason_on_the_round(
    client, clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    page = client.get(reverse("medications:dose", args=[dose.pk])).content.decode()
    assert "Different amount?" in page and "Why a different amount" in page
    assert post_dose(client, dose, quantity="4").status_code == 422
    assert post_dose(client, dose, quantity="-1").status_code == 422
    ok = post_dose(client, dose, quantity="0.5", quantity_reason="Half tablet: GP letter")
    assert ok.status_code == 200
    assert Administration.objects.get().quantity == Decimal("0.5")


def test_prn_page_asks_for_advice_and_a_second_senior_only_when_a_limit_is_reached(
    client, clock, qualified, make_line, carer_a, senior_a, senior2_a
):
    prn = make_line(prn=True)
    prn_protocol(prn, senior_a)
    clock("08:00")
    client.force_login(carer_a)
    url = reverse("medications:prn_give", args=[prn.pk])
    first = client.get(url).content.decode()
    assert "Override: who advised" not in first and "Second senior or nurse" not in first
    assert "Limits in force" in first
    base = {"prn_reason": "Knee pain", "quantity": "1"}
    assert client.post(url, {"idempotency_key": str(uuid.uuid4()), **base}).status_code == 302
    clock("09:00")
    client.force_login(carer_a)  # the idle tablet signed her out
    page = client.get(url).content.decode()
    assert "Override: who advised" in page and "Second senior or nurse: username" in page
    advice = {
        "advised_by_role": "gp",
        "adviser_name": "Dr Shah",
        "advised_time": "08:55",
        "override_reason": "GP: one more now",
    }
    alone = client.post(url, {"idempotency_key": str(uuid.uuid4()), **base, **advice})
    assert alone.status_code == 422 and "second senior" in alone.content.decode()
    wrong = client.post(
        url,
        {
            "idempotency_key": str(uuid.uuid4()),
            **base,
            **advice,
            "second_username": "senior_a",
            "second_password": "nope",
        },
    )
    assert wrong.status_code == 400
    ok = client.post(
        url,
        {
            "idempotency_key": str(uuid.uuid4()),
            **base,
            **advice,
            "second_username": "senior_a",
            "second_password": TEST_PASSWORD,
        },
    )
    assert ok.status_code == 302
    record = Administration.objects.latest("pk")
    assert record.prn_override_by == senior_a and record.prn_adviser_name == "Dr Shah"


def test_allergy_match_on_the_round_needs_the_second_senior(
    client, clock, qualified, resident_a, make_line, carer_a, senior_a
):
    allergy_add(resident=resident_a, by=senior_a, substance="Paracetamol", reason="GP record")
    line = make_line(allergy_override_reason="GP: intolerance only, benefit outweighs")
    dose = dose_at(line, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    page = client.get(reverse("medications:dose", args=[dose.pk])).content.decode()
    assert "Allergy match: Paracetamol" in page
    assert post_dose(client, dose).status_code == 422
    ok = post_dose(client, dose, second_username="senior_a", second_password=TEST_PASSWORD)
    assert ok.status_code == 200
    assert Administration.objects.get().allergy_confirmed_by == senior_a


def test_correction_page_voids_a_record_and_can_fix_the_time(
    client, clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    post_dose(client, dose)
    original = Administration.objects.get()
    page = client.get(reverse("medications:correct", args=[original.pk])).content.decode()
    assert "Recorded in error (void this record)" in page
    retimed = client.post(
        reverse("medications:correct", args=[original.pk]),
        {
            "idempotency_key": str(uuid.uuid4()),
            "outcome": "given",
            "given_time": "07:40",
            "reason": "Given before the tablet was unlocked",
        },
    )
    assert retimed.status_code == 302
    fixed = Administration.objects.get(corrects=original)
    assert fixed.administered_at == at_local(dose.home, DAY, "07:40")
    void = client.post(
        reverse("medications:correct", args=[fixed.pk]),
        {
            "idempotency_key": str(uuid.uuid4()),
            "outcome": "in_error",
            "reason": "Wrong resident",
        },
    )
    assert void.status_code == 302
    assert Administration.objects.get(corrects=fixed).outcome == "in_error"
    again = post_dose(client, dose)
    assert again.status_code == 200 and "Given" in again.content.decode()
