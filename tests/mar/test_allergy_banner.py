"""The allergy banner on every screen that records a dose, and allergy matches on the round
(R-MAR-16, R-RX-11, H-4, H-11)."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from medications.models import Administration
from residents import services as resident_services
from residents.models import AllergyStatus
from tests.mar.conftest import code, dose_at, prn_protocol
from tests.mar.test_round import post_dose, round_url

UNKNOWN = "Allergy status unknown — a senior must resolve it"


def _text(response) -> str:
    """The page as a reader sees it: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def penicillin(resident_a, senior_a, clock):
    return resident_services.allergy_add(
        resident=resident_a,
        by=senior_a,
        substance="Penicillin",
        reaction="Rash and swelling",
        severity="severe",
        reason="GP record",
    )


@pytest.fixture
def prn(make_line, senior_a):
    line = make_line(prn=True, dose=Decimal(1))
    prn_protocol(line, senior_a)
    return line


def test_the_prn_page_shows_each_allergy_with_reaction_and_severity(
    client, clock, prn, penicillin, carer_a
):
    """The PRN page used to show "Allergies:" with nothing after it."""
    client.force_login(carer_a)
    text = _text(client.get(reverse("medications:prn_give", args=[prn.pk])))
    assert "⚠ Allergies: Penicillin — Rash and swelling · Severe" in text


def test_the_prn_page_says_no_known_allergies(client, clock, prn, carer_a):
    client.force_login(carer_a)
    text = _text(client.get(reverse("medications:prn_give", args=[prn.pk])))
    assert "Allergies: No known allergies" in text


def test_an_unknown_status_keeps_the_medicines_with_a_red_warning(
    client, clock, qualified, paracetamol, prn, resident_a, senior_a, carer_a, home_a, unit_a
):
    resident_services.allergy_status_set(
        resident=resident_a, by=senior_a, status=AllergyStatus.UNKNOWN, reason="Records lost"
    )
    dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    page = client.get(round_url(home_a, unit_a)).content.decode()
    assert UNKNOWN in page and "alert-danger" in page
    assert "Paracetamol 500mg tablets" in page and "Nothing due this round" not in page
    assert reverse("medications:prn_give", args=[prn.pk]) in page  # the PRN stays offered
    prn_page = client.get(reverse("medications:prn_give", args=[prn.pk]))
    assert prn_page.status_code == 200 and UNKNOWN in _text(prn_page)


def test_the_dose_correction_and_homely_remedy_pages_carry_the_banner(
    client, clock, qualified, paracetamol, penicillin, resident_a, carer_a, home_a
):
    from medications.models import HomelyRemedy, Medicine

    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    assert "Allergies: Penicillin — Rash" in _text(
        client.get(reverse("medications:dose", args=[dose.pk]))
    )
    post_dose(client, dose, outcome="not_given", code=code(home_a, "R").pk)
    original = Administration.objects.get()
    page = _text(client.get(reverse("medications:correct", args=[original.pk])))
    assert "Allergies: Penicillin — Rash" in page
    HomelyRemedy.objects.create(
        home=home_a,
        medicine=Medicine.objects.get(name="Paracetamol 500mg soluble tablets"),
        dose_guidance="1 to 2 tablets",
    )
    page = _text(client.get(reverse("medications:homely_remedy", args=[resident_a.pk])))
    assert "Allergies: Penicillin — Rash" in page


def test_a_removed_allergy_is_not_on_the_banner(client, clock, prn, penicillin, senior_a, carer_a):
    resident_services.allergy_add(
        resident=penicillin.resident, by=senior_a, substance="Latex", reason="GP record"
    )
    resident_services.allergy_remove(allergy=penicillin, by=senior_a, reason="Wrong resident")
    client.force_login(carer_a)
    text = _text(client.get(reverse("medications:prn_give", args=[prn.pk])))
    assert "Latex" in text and "Penicillin" not in text


def test_an_allergy_added_later_shows_as_a_match_on_the_round_row_and_prn_page(
    client, clock, qualified, make_line, prn, resident_a, senior_a, carer_a, home_a, unit_a
):
    amoxicillin = make_line(name="Amoxicillin 500mg capsules", dose_unit="capsule")
    dose_at(amoxicillin, "08:00")
    resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="Penicillin", reason="Discharge letter"
    )
    resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="Paracetamol", reason="Discharge letter"
    )
    clock("08:05")
    client.force_login(carer_a)
    page = _text(client.get(round_url(home_a, unit_a)))
    assert "⚠ Allergy match: Penicillin — ask a senior before giving" in page
    assert "Allergy match: Paracetamol" in page  # the PRN button on the round
    prn_page = _text(client.get(reverse("medications:prn_give", args=[prn.pk])))
    assert "⚠ Allergy match: Paracetamol — ask a senior before giving" in prn_page


def test_the_round_query_count_does_not_grow_with_allergy_matches(
    client,
    clock,
    qualified,
    make_line,
    resident_a,
    senior_a,
    carer_a,
    home_a,
    unit_a,
    django_assert_max_num_queries,
):
    amoxicillin = make_line(name="Amoxicillin 500mg capsules", dose_unit="capsule")
    dose_at(amoxicillin, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    url = round_url(home_a, unit_a)
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        client.get(url)
    resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="Penicillin", reason="GP record"
    )
    resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="Amoxicillin", reason="GP record"
    )
    with django_assert_max_num_queries(len(before)):
        client.get(url)


def test_allergy_status_is_set_with_a_reason_over_http(client, senior_a, resident_a, clock):
    client.force_login(senior_a)
    url = reverse("allergy_status", args=[resident_a.pk])
    response = client.post(url, {"status": "unknown", "reason": ""})
    assert response.status_code == 400
    resident_a.refresh_from_db()
    assert resident_a.allergy_status == AllergyStatus.NONE_KNOWN
    assert client.post(url, {"status": "unknown", "reason": "Records lost"}).status_code == 302
    page = client.get(reverse("resident_allergies", args=[resident_a.pk])).content.decode()
    assert "Allergy status history" in page and "Records lost" in page


def test_bad_allergy_input_is_a_400_not_a_500(client, senior_a, resident_a, clock):
    client.force_login(senior_a)
    url = reverse("resident_allergies", args=[resident_a.pk])
    for data in (
        {"substance": "x" * 500, "severity": "mild", "reason": "GP"},
        {"substance": "Latex", "severity": "purple", "reason": "GP"},
        {"substance": "Latex", "severity": "mild", "reason": "y" * 400},
    ):
        assert client.post(url, data).status_code == 400
    latex = resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="Latex", reason="GP record"
    )
    remove = reverse("allergy_remove", args=[latex.pk])
    assert client.post(remove, {"reason": "Error", "new_status": "maybe"}).status_code == 400


def test_the_htmx_row_does_not_load_the_allergy_banner(
    client, clock, qualified, paracetamol, carer_a
):
    """The banner sits above the rows; a recorded row swaps in without it. The allergies are
    read only by the recording rule (R-MAR-16) and the row's own confirmation check."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    with CaptureQueriesContext(connection) as queries:
        response = post_dose(client, dose, idempotency_key=str(uuid.uuid4()))
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "allergy-banner" not in body
    assert len([q for q in queries if 'FROM "residents_allergy"' in q["sql"]]) <= 2
