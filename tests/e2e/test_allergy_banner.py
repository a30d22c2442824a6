"""Browser check (R-MAR-16, R-RX-11, H-4, H-11): the allergy banner on the PRN page and the
round reads by its visible text on a 10" tablet (1280x800 landscape) and a 390px phone, without
horizontal scrolling; an unknown status keeps the medicines with the red warning. Screenshots
land in tests/e2e/screenshots/."""

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from residents import services as resident_services
from residents.models import AllergyStatus
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.mar.conftest import prn_protocol
from tests.medications.factories import line
from tests.residents.factories import resident
from tests.training.factories import qualify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"tablet": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("carer_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _no_sideways_scroll(page) -> None:
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className)"""
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide


def test_the_allergy_banner_on_the_prn_page_and_round(
    live_server, browser, home_a, unit_a, carer_a, senior_a, senior2_a
):
    qualify(carer_a, home_a)
    doug = resident(
        unit_a,
        senior_a,
        full_name="Douglas Roy Francis",
        preferred_name="Doug",
        room="28",
        allergies=(),
    )
    resident_services.allergy_add(
        resident=doug,
        by=senior_a,
        substance="Morphine",
        reaction="Hallucinations and severe confusion after a dose in hospital",
        severity="severe",
        reason="Hospital discharge letter",
    )
    oxycodone = line(
        doug,
        senior_a,
        checker=senior2_a,
        prn=True,
        name="Oxycodone 5mg/5ml oral solution",
        dose=Decimal("2.5"),
        dose_unit="ml",
    )
    prn_protocol(oxycodone, senior_a)
    arthur = resident(unit_a, senior_a, full_name="Arthur Leonard Hughes", room="4")
    morphine = line(
        arthur,
        senior_a,
        checker=senior2_a,
        prn=True,
        name="Morphine sulfate 10mg/5ml oral solution",
        dose=Decimal("2.5"),
        dose_unit="ml",
    )
    prn_protocol(morphine, senior_a)
    resident_services.allergy_add(
        resident=arthur,
        by=senior_a,
        substance="Morphine",
        reaction="Itching and rash",
        severity="moderate",
        reason="Reported by the district nurse",
    )
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    paracetamol = line(edith, senior_a, checker=senior2_a, prn=True)
    prn_protocol(paracetamol, senior_a)
    resident_services.allergy_status_set(
        resident=edith, by=senior_a, status=AllergyStatus.UNKNOWN, reason="Records lost in move"
    )

    for size, viewport in SIZES.items():
        context = browser.new_context(viewport=viewport, device_scale_factor=1, has_touch=True)
        page = context.new_page()
        _sign_in(page, live_server.url)

        page.goto(live_server.url + reverse("medications:prn_give", args=[oxycodone.pk]))
        banner = page.locator(".allergy-banner")
        expect(banner).to_contain_text("Allergies:")
        expect(banner).to_contain_text(
            "Morphine — Hallucinations and severe confusion after a dose in hospital"
        )
        expect(banner).to_contain_text("Severe")
        expect(page.get_by_text("Allergy match")).to_have_count(0)  # oxycodone is not morphine
        screenshot(page, f"allergy-prn-{size}")
        _no_sideways_scroll(page)

        page.goto(
            live_server.url
            + reverse("medications:round", args=[home_a.pk])
            + f"?unit={unit_a.pk}&round=all"
        )
        edith_card = page.locator(".resident-card", has_text="Edith Clarke")
        expect(
            edith_card.get_by_text("Allergy status unknown — a senior must resolve it")
        ).to_be_visible()
        expect(edith_card.get_by_role("link", name="Paracetamol 500mg tablets")).to_be_visible()
        arthur_card = page.locator(".resident-card", has_text="Arthur Leonard Hughes")
        expect(arthur_card.get_by_text("Allergy match: Morphine")).to_be_visible()
        screenshot(page, f"allergy-round-{size}")
        _no_sideways_scroll(page)
        context.close()
