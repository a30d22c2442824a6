"""Browser journey (R-AUD-2, R-AUD-4, R-INS-1): a manager at a desk completes last month's audit
checklist, signs it, waits for the PDF report and downloads it; an inspector then downloads the
same report from the reports area — the same bytes, and the inspector's download is logged."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from audits import consistency, services
from audits.models import AccessLog, Audit, ChecklistQuestion, previous_month
from tests.audits.conftest import month_of_records
from tests.e2e.conftest import screenshot, sign_out
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def prepared_audit(transactional_db, home_a, unit_a, senior_a, senior2_a, manager_a) -> Audit:
    """Last month's records and its prepared audit, every question answered but the first two
    (those are answered in the browser). Built before the browser starts (see `browser`)."""
    month = previous_month(home_a.local_today())
    month_of_records(unit_a, senior_a, senior2_a, residents=3, month=month)
    audit = services.audit_prepare(home=home_a, month=month, by=manager_a)
    questions = list(ChecklistQuestion.objects.filter(active=True).order_by("pk"))
    # A "yes" that the month's figures contradict cannot be signed (R-AUD-2): those are "no",
    # with what was found, as a manager would answer them.
    ruled = {rule.question for rule in consistency.RULES}
    answers = {
        q.pk: ("no", "Seen in the figures; action raised") if q.code in ruled else ("yes", "")
        for q in questions[2:]
    }
    services.checklist_save(audit=audit, answers=answers, by=manager_a)
    return audit


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport=DESKTOP, device_scale_factor=1, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _download(page, click) -> bytes:
    with page.expect_download() as info:
        click()
    return open(info.value.path(), "rb").read()


def test_manager_signs_the_audit_and_an_inspector_downloads_the_same_report(
    prepared_audit, live_server, desktop, home_a, manager_a, inspector_a
):
    audit = prepared_audit
    first, second = ChecklistQuestion.objects.filter(active=True).order_by("pk")[:2]
    page = desktop
    _sign_in(page, live_server.url, "manager_a")
    page.goto(f"{live_server.url}/audits/{audit.pk}/")
    expect(page.get_by_text("2 checklist questions still to answer")).to_be_visible()
    screenshot(page, "audit-1-draft")

    # The two open questions: a yes, and a no with what was found.
    page.locator(f"label[for=q{first.pk}-yes]").click()
    page.locator(f"label[for=q{second.pk}-no]").click()
    page.locator(f"#c{second.pk}").fill("Fridge log missed two days")
    page.get_by_role("button", name="Save checklist").click()
    page.get_by_text("Checklist saved.").wait_for()
    expect(page.get_by_text("Checklist complete.")).to_be_visible()

    page.get_by_label("Summary and overall findings").fill("Good month; fridge log to tighten.")
    page.get_by_label("I have reviewed the metrics").check()
    page.get_by_role("button", name="Sign and lock the audit").click()
    page.get_by_text("Audit signed and locked").wait_for()
    # The report builds in the background; the page polls until the link appears.
    download_link = page.get_by_test_id("report-download")
    download_link.wait_for(timeout=90_000)
    screenshot(page, "audit-2-signed")
    managers_pdf = _download(page, download_link.click)

    # The inspector finds the signed audit in the reports area.
    sign_out(page)
    _sign_in(page, live_server.url, "inspector_a")
    page.goto(f"{live_server.url}/homes/{home_a.pk}/reports/")
    row = page.locator(".list-group-item", has_text=f"{audit.month:%B %Y}")
    expect(row.get_by_text("signed")).to_be_visible()
    screenshot(page, "audit-3-inspector-reports")
    inspectors_pdf = _download(page, row.get_by_role("link", name="Download PDF").click)

    assert managers_pdf.startswith(b"%PDF") and inspectors_pdf.startswith(b"%PDF")
    assert managers_pdf == inspectors_pdf
    audit.refresh_from_db()
    assert audit.is_signed and audit.signed_by == manager_a
    assert AccessLog.objects.filter(
        user=inspector_a, role="inspector", action="download", object_id=str(audit.pk)
    ).exists()
