"""Browser journey (R-DASH-1, R-DASH-2): on the demo, the manager's home dashboard and the
provider admin's dashboard show today's figures as the database has them, the home dashboard
refreshes itself without a reload, the provider table sorts and downloads as CSV; screenshots
at the tablet's 1280x800 and a 390x844 phone."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from audits import metrics
from emar.models import CareHome, User
from medications.models import Administration, LineStatus, PrescriptionLine, ScheduledDose
from tests.e2e.conftest import screenshot, sign_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "dashboards-e2e-2026"
SIZES = {"1280": {"width": 1280, "height": 800}, "390": {"width": 390, "height": 844}}


@pytest.fixture
def demo(transactional_db):
    """The demo, seeded before the browser starts (see `browser` in conftest)."""
    call_command("seed_demo", "--password", PASSWORD, stdout=StringIO())
    return CareHome.objects.get(name="Demo Care Home")


def expected(home: CareHome) -> dict[str, int]:
    """Today's figures counted plainly, dose by dose, from the rows."""
    now = timezone.now()
    today = home.local_today()
    doses = [
        d
        for d in ScheduledDose.objects.filter(home=home, cancelled_at__isnull=True)
        if not d.self_administered
        and (d.round_date == today or (d.round_date is None and d.local_date == today))
    ]
    final = {
        a.dose_id: a
        for a in Administration.objects.filter(
            home=home, corrected_by__isnull=True, final=True, dose__isnull=False
        )
    }
    start = dt.datetime.combine(today, dt.time(0), tzinfo=home.tz)
    out = {"due": len(doses), "given": 0, "not-given": 0, "open": 0, "missed": 0, "late": 0}
    for d in doses:
        record = final.get(d.pk)
        if record is None:
            out["open" if d.window_closes >= now else "missed"] += 1
        elif record.outcome == "given":
            out["given"] += 1
            out["late"] += record.administered_at > d.window_closes
        else:
            out["not-given"] += 1
    out["prn"] = Administration.objects.filter(
        home=home,
        corrected_by__isnull=True,
        dose__isnull=True,
        outcome="given",
        administered_at__gte=start,
        administered_at__lt=start + dt.timedelta(days=1),
    ).count()
    out["cd"] = sum(1 for d in doses if d.line.medicine.cd_register)
    return out


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _check_home_figures(page, home: CareHome) -> None:
    want = expected(home)
    panel = page.get_by_test_id("home-dashboard")
    for key, value in want.items():
        expect(panel.get_by_test_id(f"dash-{key}")).to_have_text(str(value))


def test_manager_sees_todays_figures_and_they_refresh(live_server, browser, demo):
    home = demo
    context = browser.new_context(viewport=SIZES["1280"], device_scale_factor=1)
    page = context.new_page()
    _sign_in(page, live_server.url, "manager")
    expect(page.get_by_role("heading", name="Today's medicines")).to_be_visible()
    _check_home_figures(page, home)

    # each unit's rounds, each a link to that round screen
    rows = page.get_by_test_id("dash-round")
    expect(rows.first).to_be_visible()
    morning = page.locator('[data-testid=dash-round][data-unit="Oak"][data-round="Morning"]')
    due = ScheduledDose.objects.filter(
        home=home,
        unit__name="Oak",
        round__name="Morning",
        round_date=home.local_today(),
        cancelled_at__isnull=True,
        self_administered=False,
    ).count()
    expect(morning.locator("[data-col=due]")).to_have_text(str(due))
    screenshot(page, "dashboard-home-1280")

    # Live: a PRN dose recorded elsewhere shows without a reload (the poll, here asked now).
    prn = PrescriptionLine.objects.filter(home=home, is_prn=True, status=LineStatus.ACTIVE).first()
    before = expected(home)["prn"]
    Administration.objects.create(
        home=home,
        resident=prn.resident,
        line=prn,
        outcome="given",
        quantity=Decimal(1),
        administered_at=timezone.now(),
        recorded_by=User.objects.get(username="senior"),
        prn_reason="Pain in the knee",
        idempotency_key=uuid.uuid4(),
    )
    page.evaluate(
        "document.getElementById('home-dashboard').dispatchEvent(new Event('dash-refresh'))"
    )
    expect(page.get_by_test_id("dash-prn")).to_have_text(str(before + 1))
    expect(page.get_by_test_id("dash-prn-list")).to_contain_text("Pain in the knee")

    morning.get_by_role("link").click()
    page.wait_for_url("**/round/?unit=*")
    expect(page.get_by_text("Morning").first).to_be_visible()
    context.close()

    phone = browser.new_context(viewport=SIZES["390"], device_scale_factor=1, has_touch=True)
    page = phone.new_page()
    _sign_in(page, live_server.url, "manager")
    _check_home_figures(page, home)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the home dashboard scrolls sideways on a phone: {width}px"
    screenshot(page, "dashboard-home-390")
    sign_out(page)
    phone.close()


def test_provider_admin_sees_every_home_sorted_and_downloads_csv(live_server, browser, demo):
    homes = list(CareHome.objects.filter(provider=demo.provider).order_by("name"))
    assert {h.name for h in homes} == {"Demo Care Home", "Demo Riverside"}
    context = browser.new_context(
        viewport=SIZES["1280"], device_scale_factor=1, accept_downloads=True
    )
    page = context.new_page()
    _sign_in(page, live_server.url, "admin")
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    page.get_by_role("link", name="All homes").click()
    page.wait_for_url("**/providers/*/dashboard/")
    rows = page.get_by_test_id("provider-row")
    expect(rows).to_have_count(2)
    for home in homes:
        row = page.locator(f'[data-testid=provider-row][data-home="{home.name}"]')
        want = expected(home)
        for col in ("due", "given", "open", "missed", "late", "prn"):
            expect(row.locator(f"[data-col={col}]")).to_have_text(str(want[col]))
        rate = metrics.compute(home, home.local_today().replace(day=1))["doses"]["gap_rate"]
        expect(row.locator("[data-col=omissions]")).to_contain_text(f"{rate}%")
        expect(row.locator("svg title")).to_contain_text("checklist score, last six months")
    screenshot(page, "dashboard-provider-1280")

    page.locator("a[data-sort=home]").click()
    page.wait_for_url("**?sort=-home")
    expect(rows.first).to_have_attribute("data-home", "Demo Riverside")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Home")

    with page.expect_download() as info:
        page.get_by_test_id("provider-csv").click()
    download = info.value
    assert download.suggested_filename.startswith("provider-dashboard-demo-care-group-")
    with open(download.path(), encoding="utf-8") as f:
        text = f.read()
    assert text.splitlines()[1].startswith("Demo Riverside,")
    context.close()

    phone = browser.new_context(viewport=SIZES["390"], device_scale_factor=1, has_touch=True)
    page = phone.new_page()
    _sign_in(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/providers/{demo.provider_id}/dashboard/")
    expect(page.get_by_test_id("provider-card")).to_have_count(2)
    page.get_by_label("Sort by").select_option("-due")
    page.get_by_role("button", name="Sort").click()
    page.wait_for_url("**?sort=-due")
    expect(page.get_by_test_id("provider-card").first).to_have_attribute(
        "data-home", "Demo Care Home"
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the provider dashboard scrolls sideways on a phone: {width}px"
    screenshot(page, "dashboard-provider-390")
    phone.close()
