"""Browser journeys (R-OFF-4, H-10, R-OFF-1 groundwork): the round's "Downtime MAR" link downloads
the unit's latest downtime kit, a PDF built in the background; the service worker keeps the
round page for a reload without a connection and clears it on sign-out (R-OFF-5)."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from medications import services
from medications.models import DowntimeKit
from tests.e2e.conftest import sign_out
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line, times
from tests.residents.factories import resident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_downtime_mar_link_downloads_a_pdf(
    live_server, tablet, home_a, unit_a, carer_a, senior_a, senior2_a
):
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    line(edith, senior_a, checker=senior2_a, schedule=times("08:00", "20:00"))
    DowntimeKit.objects.all().delete()  # the change's waiting kit: the daily build instead
    services.downtime_kits_sweep()  # Celery is eager in tests: the kit is built at commit
    kit = DowntimeKit.objects.get(unit=unit_a, status="ready")

    tablet.goto(f"{live_server.url}/login/")
    tablet.get_by_label("Username").fill("carer_a")
    tablet.get_by_label("Password").fill(TEST_PASSWORD)
    tablet.get_by_role("button", name="Sign in").click()
    tablet.wait_for_url(f"{live_server.url}/")
    tablet.goto(f"{live_server.url}/homes/{home_a.pk}/round/?unit={unit_a.pk}")
    link = tablet.get_by_role("link", name="Downtime MAR")
    expect(link).to_be_visible()
    with tablet.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == f"downtime-mar-oak-{kit.start:%Y-%m-%d}.pdf"
    assert Path(download.path()).read_bytes()[:5] == b"%PDF-"


def test_the_round_page_reloads_without_a_connection_and_is_cleared_on_sign_out(
    live_server, tablet, home_a, unit_a, carer_a, senior_a, senior2_a
):
    edith = resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    line(edith, senior_a, checker=senior2_a, schedule=times("08:00", "20:00"))
    round_url = f"{live_server.url}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all"

    tablet.goto(f"{live_server.url}/login/")
    tablet.get_by_label("Username").fill("carer_a")
    tablet.get_by_label("Password").fill(TEST_PASSWORD)
    tablet.get_by_role("button", name="Sign in").click()
    tablet.wait_for_url(f"{live_server.url}/")
    tablet.evaluate("navigator.serviceWorker.ready.then(() => true)")
    tablet.goto(round_url)  # now under the service worker: the page is kept
    expect(tablet.get_by_text("Edith Clarke").first).to_be_visible()
    tablet.wait_for_function(
        "caches.open('emar-round-v1').then(c => c.keys()).then(k => k.length > 0)"
    )

    tablet.context.set_offline(True)
    tablet.reload()
    expect(tablet.get_by_text("Edith Clarke").first).to_be_visible()

    tablet.context.set_offline(False)
    tablet.reload()  # back online: a fresh page to sign out from
    expect(tablet.get_by_text("Edith Clarke").first).to_be_visible()
    sign_out(tablet)
    tablet.wait_for_function(
        "caches.open('emar-round-v1').then(c => c.keys()).then(k => k.length === 0)"
    )
