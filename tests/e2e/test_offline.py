"""Browser journeys of a round without a connection (R-OFF-1..5, H-10, H-13).

Doses tapped offline wait on the tablet (IndexedDB) and survive a reload and a browser restart
(a persistent profile); another person signing in sees them waiting and cannot send them; back
online and signed in as the person who tapped, they are sent with the times of the taps, once.
A dose someone else recorded meanwhile comes back as a conflict on the round and is discarded
only with a reason. A controlled drug offers nothing to tap offline, and the downtime MAR opens
without a connection. The server side is tests/mar/test_offline_queue.py."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from emar.models import AuditEvent
from medications import services
from medications.models import Administration, DowntimeKit, OfflineDiscard, ScheduledDose
from tests.conftest import need
from tests.e2e.conftest import CHROMIUM, TABLET, screenshot, sign_out
from tests.factories import TEST_PASSWORD
from tests.medications.factories import line, times
from tests.residents.factories import resident
from tests.training.factories import qualify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READ_QUEUE = """() => new Promise((resolve) => {
  const open = indexedDB.open("emar-offline", 1);
  open.onsuccess = () => {
    const all = open.result.transaction("queue").objectStore("queue").getAll();
    all.onsuccess = () => resolve(all.result);
  };
})"""


@pytest.fixture
def chromium(transactional_db):
    need(
        Path(CHROMIUM).exists() or bool(shutil.which("chromium")),
        "needs Chromium at /usr/bin/chromium (apt-get install chromium)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p.chromium


def tablet_with_profile(chromium, profile: Path):
    """A tablet whose browser keeps its data (IndexedDB, the service worker) across restarts."""
    return chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=ARGS,
        viewport=TABLET,
        device_scale_factor=1,
        has_touch=True,
    )


def now_slot(home) -> str:
    now = timezone.now().astimezone(home.tz)
    return f"{now:%H}:{now.minute // 5 * 5:02d}"


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def open_round_kept(page, url: str) -> None:
    """Open the round under the service worker, so that it is kept for offline use."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.goto(url)
    page.wait_for_function(
        "caches.open('emar-round-v1').then(c => c.keys()).then(k => k.length > 0)"
    )


def card(page, name: str):
    return page.locator(".resident-card", has_text=name)


@pytest.fixture
def ward(home_a, unit_a, carer_a, senior_a, senior2_a):
    """Three residents with a dose due now, and one controlled drug."""
    for person in (carer_a, senior_a, senior2_a):
        qualify(person, home_a)
    slot = now_slot(home_a)
    names = ("Edith Clarke", "Arthur Bell", "Mary Jones")
    for room, name in enumerate(names, start=10):
        person = resident(unit_a, senior_a, full_name=name, room=str(room))
        line(person, senior_a, checker=senior2_a, schedule=times(slot))
    line(
        person,
        senior_a,
        checker=senior2_a,
        schedule=times(slot),
        name="Oxycodone 10mg capsules",
        dose_unit="capsule",
    )
    return names


def test_doses_recorded_offline_survive_a_reload_and_a_restart_and_are_sent_once(
    live_server, chromium, tmp_path, home_a, unit_a, carer_a, ward
):
    base = live_server.url
    round_url = f"{base}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all"
    profile = tmp_path / "profile"
    context = tablet_with_profile(chromium, profile)
    page = context.new_page()
    sign_in(page, base, "carer_a")
    open_round_kept(page, round_url)

    context.set_offline(True)
    expect(page.get_by_text("Offline — 0 records waiting")).to_be_visible()
    for name in ward:
        card(page, name).locator(".dose-row", has_text="Paracetamol").get_by_role(
            "button", name="Given"
        ).click()
        expect(card(page, name).get_by_text("Saved on this tablet, not yet sent")).to_be_visible()
    expect(page.get_by_text("Offline — 3 records waiting")).to_be_visible()
    tapped = sorted(entry["tappedAt"] for entry in page.evaluate(READ_QUEUE))
    assert len(tapped) == 3
    screenshot(page, "offline-1-three-waiting")

    page.reload()  # offline: the kept page, and the queue read again
    expect(page.get_by_text("Offline — 3 records waiting")).to_be_visible()
    for name in ward:
        expect(card(page, name).get_by_text("Saved on this tablet, not yet sent")).to_be_visible()
        expect(
            card(page, name)
            .locator(".dose-row", has_text="Paracetamol")
            .get_by_role("button", name="Given")
        ).to_be_hidden()
    context.close()
    assert not Administration.objects.exists()

    # The browser restarts (the session ends with it); still offline, the round is there.
    context = tablet_with_profile(chromium, profile)
    context.set_offline(True)
    page = context.new_page()
    page.goto(round_url)
    expect(page.get_by_text("Offline — 3 records waiting")).to_be_visible()

    # Back online, someone else signs in on the tablet: the records wait for the one who tapped.
    context.set_offline(False)
    sign_in(page, base, "senior_a")
    expect(page.get_by_text(f"Records of {carer_a} waiting (3)")).to_be_visible()
    screenshot(page, "offline-2-someone-else-signed-in")
    assert not Administration.objects.exists()
    sign_out(page)

    sign_in(page, base, "carer_a")
    # Sent from the first page after signing in; the round opened after that shows them given
    # (a round opened while a send is on its way may show that row as it was a moment before).
    expect(page.locator("body")).to_have_attribute("data-offline-waiting", "0")
    page.goto(round_url)
    for name in ward:
        expect(
            card(page, name)
            .locator(".dose-row", has_text="Paracetamol")
            .locator(".dose-status", has_text="Given")
        ).to_be_visible()
    expect(page.get_by_text("not yet sent")).to_have_count(0)
    assert page.evaluate(READ_QUEUE) == []
    records = Administration.objects.filter(recorded_by=carer_a).order_by("administered_at")
    assert records.count() == 3
    assert [r.administered_at for r in records] == [dt.datetime.fromisoformat(t) for t in tapped]
    screenshot(page, "offline-3-sent")
    context.close()


def test_a_dose_recorded_meanwhile_by_someone_else_is_a_conflict_and_nothing_is_lost(
    live_server, chromium, tmp_path, home_a, unit_a, carer_a, senior_a, ward
):
    base = live_server.url
    round_url = f"{base}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all"
    context = tablet_with_profile(chromium, tmp_path / "profile")
    page = context.new_page()
    sign_in(page, base, "carer_a")
    open_round_kept(page, round_url)
    context.set_offline(True)
    edith = card(page, "Edith Clarke")
    edith.get_by_role("button", name="Given").click()
    expect(edith.get_by_text("Saved on this tablet, not yet sent")).to_be_visible()

    # Meanwhile, on another tablet, the senior gives the same dose.
    dose_id = edith.locator(".dose-row").get_attribute("id").removeprefix("dose-")
    dose = ScheduledDose.objects.get(pk=dose_id)
    services.administration_record(
        dose=dose, by=senior_a, idempotency_key=uuid.uuid4(), outcome="given"
    )

    context.set_offline(False)
    conflict = page.locator(".offline-conflict")
    expect(conflict).to_contain_text("Not sent: Edith Clarke")
    expect(conflict).to_contain_text(f"Already recorded by {senior_a}")
    expect(conflict.get_by_role("link", name="Open the dose to correct")).to_be_visible()
    expect(edith.locator(".offline-mark")).to_contain_text("not sent: choose what to do")
    assert len(page.evaluate(READ_QUEUE)) == 1  # kept until the carer decides
    screenshot(page, "offline-4-conflict")

    page.reload()  # a conflict stays on the tablet until resolved
    conflict = page.locator(".offline-conflict")
    expect(conflict).to_contain_text(f"Already recorded by {senior_a}")
    conflict.get_by_label("Why discard it").fill("The senior gave it: same dose")
    conflict.get_by_role("button", name="Discard this record").click()
    expect(page.locator(".offline-conflict")).to_have_count(0)
    assert page.evaluate(READ_QUEUE) == []
    kept = OfflineDiscard.objects.get()
    assert kept.dose == dose and kept.discarded_by == carer_a
    assert kept.reason == "The senior gave it: same dose"
    assert "Already recorded" in kept.refusal
    assert AuditEvent.objects.filter(action="mar.offline.discarded").count() == 1
    assert Administration.objects.get().recorded_by == senior_a
    context.close()


def test_offline_a_controlled_drug_offers_no_given_but_the_paper_cd_register(
    live_server, chromium, tmp_path, home_a, unit_a, carer_a, ward
):
    base = live_server.url
    context = tablet_with_profile(chromium, tmp_path / "profile")
    page = context.new_page()
    sign_in(page, base, "carer_a")
    open_round_kept(page, f"{base}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all")
    cd_row = page.locator(".dose-row", has_text="Oxycodone")
    expect(cd_row.get_by_role("button", name="Given")).to_be_visible()
    context.set_offline(True)
    expect(cd_row.get_by_role("button", name="Given")).to_be_hidden()
    note = cd_row.get_by_text("record this controlled drug in the printed CD register")
    expect(note).to_be_visible()
    screenshot(page, "offline-5-cd-row")
    context.set_offline(False)
    expect(cd_row.get_by_role("button", name="Given")).to_be_visible()
    context.close()


def test_the_downtime_mar_opens_offline(
    live_server, chromium, tmp_path, home_a, unit_a, carer_a, ward
):
    DowntimeKit.objects.all().delete()
    services.downtime_kits_sweep()  # Celery is eager in tests: built at commit
    assert DowntimeKit.objects.filter(unit=unit_a, status="ready").exists()
    base = live_server.url
    context = tablet_with_profile(chromium, tmp_path / "profile")
    page = context.new_page()
    sign_in(page, base, "carer_a")
    open_round_kept(page, f"{base}/homes/{home_a.pk}/round/?unit={unit_a.pk}&round=all")
    link = page.get_by_role("link", name="Downtime MAR")
    with page.expect_download() as first:
        link.click()  # online: downloaded and kept for its unit
    assert Path(first.value.path()).read_bytes()[:5] == b"%PDF-"

    context.set_offline(True)
    with page.expect_download() as again:
        link.click()
    assert Path(again.value.path()).read_bytes()[:5] == b"%PDF-"
    context.close()
