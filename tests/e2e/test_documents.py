"""Browser walk (R-RES-7): a senior uploads a hospital discharge letter from the resident's
record as a source of the return reconciliation, sees it listed there and on the
reconciliation, and opens it through the checked view — by the labels they see on a tablet."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from residents import services
from residents.models import ResidentDocument
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line
from tests.residents.factories import resident
from tests.training.factories import pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_a_discharge_letter_see_it_listed_and_open_it(
    live_server, tablet, home_a, unit_a, senior_a, senior2_a
):
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    paracetamol = line(edith, senior_a, checker=senior2_a)
    rec = services.reconciliation_start(
        resident=edith,
        by=senior_a,
        reason="hospital_return",
        arrived_on=home_a.local_today(),
        sources=["discharge_letter"],
    )
    page = tablet
    base = live_server.url
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("senior_a")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")

    page.goto(base + reverse("medications:resident_profile", args=[edith.pk]))
    expect(page.get_by_text("No documents attached.")).to_be_visible()
    page.get_by_role("link", name="Upload or withdraw documents").click()
    page.get_by_label("What is it?").select_option(label="Hospital discharge letter")
    page.get_by_label("Title").fill("Discharge letter, Royal Infirmary")
    page.get_by_label("File").set_input_files(
        {"name": "discharge.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}
    )
    page.get_by_label("Source of a reconciliation").select_option(index=1)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Discharge letter, Royal Infirmary uploaded.")).to_be_visible()
    letter = page.get_by_role("link", name="Discharge letter, Royal Infirmary")
    expect(letter).to_be_visible()
    screenshot(page, "documents-uploaded")
    document = ResidentDocument.objects.get(resident=edith)
    assert document.reconciliation == rec

    page.goto(base + reverse("reconciliation_detail", args=[rec.pk]))
    expect(page.get_by_role("link", name="Discharge letter, Royal Infirmary")).to_be_visible()

    page.goto(base + reverse("medications:resident_profile", args=[edith.pk]))
    opened = page.get_by_role("link", name="Discharge letter, Royal Infirmary")
    expect(opened).to_be_visible()
    screenshot(page, "documents-on-profile")
    with page.expect_response(lambda r: "/documents/" in r.url) as answer:
        opened.click()
    response = answer.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-content-type-options"] == "nosniff"

    # Linked to the line it justifies, and shown with the line's covert plan.
    page.goto(base + reverse("medications:line_detail", args=[paracetamol.pk]))
    page.get_by_role("link", name="Link a document").click()
    page.get_by_label("Document").select_option(index=1)
    page.get_by_role("button", name="Link").click()
    expect(page.get_by_text("Discharge letter, Royal Infirmary linked to")).to_be_visible()
    page.goto(base + reverse("medications:covert_plan", args=[paracetamol.pk]))
    expect(page.get_by_role("link", name="Discharge letter, Royal Infirmary")).to_be_visible()
    screenshot(page, "documents-covert-plan")
