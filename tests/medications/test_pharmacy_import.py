"""R-RX-12: the senior's check of the pharmacy's lines. Each is shown beside the resident's
current line (new, changed with what differs, unchanged, stopped), and checked and accepted
or rejected; only an accepted line reaches the rounds, and a changed line replaces the old one."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from emar.models import AuditEvent
from emar.services import DomainError
from medications import services
from medications.models import ImportDecision, LineStatus, PharmacyImport, ScheduledDose
from tests.mar import conftest as mar

DAY = mar.DAY
# The MAR fixtures: a resident at home A with a live paracetamol line, a frozen clock.
clock, resident_a, make_line, paracetamol = (
    mar.clock,
    mar.resident_a,
    mar.make_line,
    mar.paracetamol,
)


@pytest.fixture
def pharmacy(home_a):
    return services.pharmacy_create(name="Riverside Pharmacy", homes=[home_a], by=None)


def sent(
    resident,
    *,
    ident="rx-1",
    name="Paracetamol 500mg tablets",
    dose=1,
    times=("08:00", "20:00"),
    **kw,
):
    return services.ImportedLine(
        identifier_system="https://pharmacy.example/rx",
        identifier_value=ident,
        nhs_number=resident.nhs_number,
        dmd_code="",
        medication_name=name,
        dose=Decimal(dose),
        dose_max=None,
        dose_unit=kw.pop("unit", "tablet"),
        route=kw.pop("route", "oral"),
        is_prn=False,
        times=tuple(dt.time.fromisoformat(t) for t in times),
        prescriber="Dr Patel",
        **kw,
    )


def imported(pharmacy, data):
    return services.prescription_import(pharmacy=pharmacy, data=data)[0]


def row_of(resident, kind):
    return [r for r in services.pharmacy_import_review(resident) if r.kind == kind]


def doses(line):
    services.doses_sync(home=line.home, start=DAY, end=DAY + dt.timedelta(days=1))
    return ScheduledDose.objects.filter(line=line, cancelled_at__isnull=True)


def test_a_new_line_goes_live_only_when_accepted(pharmacy, resident_a, senior_a, clock):
    clock("07:00", DAY)
    item = imported(pharmacy, sent(resident_a, name="Senna 7.5mg tablets", times=("22:00",)))
    [row] = row_of(resident_a, "new")
    assert row.item == item and row.current is None
    assert not doses(item.line).exists()
    with pytest.raises(DomainError) as refused:  # not through the ordinary check screen
        services.line_check(line=item.line, by=senior_a)
    assert refused.value.code == "check_on_import_screen"
    services.pharmacy_import_accept(item=item, by=senior_a, idempotency_key=uuid.uuid4())
    item.refresh_from_db()
    item.line.refresh_from_db()
    assert item.decision == ImportDecision.ACCEPTED and item.decided_by == senior_a
    assert item.line.status == LineStatus.ACTIVE and item.line.checked_by == senior_a
    assert doses(item.line).exists()
    assert AuditEvent.objects.filter(action="prescription.import_accepted").count() == 1


def test_a_changed_line_replaces_the_current_one(
    pharmacy, resident_a, paracetamol, senior_a, clock
):
    clock("14:00", DAY)
    item = imported(pharmacy, sent(resident_a, dose=2, times=("08:00", "12:00", "20:00")))
    [row] = row_of(resident_a, "changed")
    assert row.current == paracetamol
    assert any(d.startswith("dose 1 tablet(s) → 2 tablet(s)") for d in row.differences)
    assert any(d.startswith("timing") for d in row.differences)
    services.pharmacy_import_accept(item=item, by=senior_a)
    paracetamol.refresh_from_db()
    item.line.refresh_from_db()
    assert paracetamol.status == LineStatus.STOPPED
    assert "Riverside Pharmacy" in paracetamol.stop_reason
    assert item.line.status == LineStatus.ACTIVE
    # The new line starts now: no second 08:00 or 12:00 dose today beside the old line's.
    due_today = doses(item.line).filter(local_date=DAY).values_list("due_at", flat=True)
    assert all(at.astimezone(resident_a.home.tz).hour >= 14 for at in due_today)


def test_an_unchanged_line_changes_nothing(pharmacy, resident_a, paracetamol, senior_a, clock):
    item = imported(pharmacy, sent(resident_a))
    [row] = row_of(resident_a, "unchanged")
    assert row.differences == []
    services.pharmacy_import_accept(item=item, by=senior_a)
    item.refresh_from_db()
    paracetamol.refresh_from_db()
    assert item.decision == ImportDecision.UNCHANGED and item.replaced == paracetamol
    assert paracetamol.status == LineStatus.ACTIVE
    assert item.line.status == LineStatus.STOPPED and not doses(item.line).exists()


def test_a_rejected_line_never_reaches_the_rounds(pharmacy, resident_a, senior_a, clock):
    item = imported(pharmacy, sent(resident_a, name="Senna 7.5mg tablets"))
    with pytest.raises(DomainError) as no_reason:
        services.pharmacy_import_reject(item=item, by=senior_a, reason="  ")
    assert no_reason.value.code == "reason_required"
    services.pharmacy_import_reject(item=item, by=senior_a, reason="GP stopped it yesterday")
    item.refresh_from_db()
    assert item.decision == ImportDecision.REJECTED and item.reason == "GP stopped it yesterday"
    assert item.line.status == LineStatus.STOPPED
    assert not doses(item.line).exists()
    assert AuditEvent.objects.filter(action="prescription.import_rejected").count() == 1
    with pytest.raises(DomainError) as again:
        services.pharmacy_import_accept(item=item, by=senior_a)
    assert again.value.code == "import_decided"


def test_a_current_line_missing_from_the_pharmacys_list_is_shown_stopped(
    pharmacy, resident_a, paracetamol, clock
):
    services.prescription_import_many(
        pharmacy=pharmacy, items=[sent(resident_a, name="Senna 7.5mg tablets")]
    )
    [row] = row_of(resident_a, "stopped")
    assert row.current == paracetamol and row.item is None
    # A single MedicationRequest is an addition, not a whole list: nothing shown as stopped.
    PharmacyImport.objects.update(is_full_list=False)
    assert row_of(resident_a, "stopped") == []


def test_only_a_senior_accepts(pharmacy, resident_a, carer_a, clock):
    item = imported(pharmacy, sent(resident_a))
    with pytest.raises(DomainError) as refused:
        services.pharmacy_import_accept(item=item, by=carer_a)
    assert refused.value.code == "check_not_senior"


def test_the_check_screen_over_http(
    client, pharmacy, resident_a, paracetamol, senior_a, carer_a, clock
):
    item = imported(pharmacy, sent(resident_a, dose=2))
    imported(pharmacy, sent(resident_a, ident="rx-2", name="Senna 7.5mg tablets", times=("22:00",)))
    client.force_login(senior_a)
    home_list = client.get(f"/homes/{resident_a.home_id}/pharmacy-imports/")
    assert home_list.status_code == 200 and resident_a.full_name in home_list.text
    page = client.get(f"/residents/{resident_a.pk}/pharmacy-import/")
    assert page.status_code == 200
    assert "Changed" in page.text and "New" in page.text and "dose 1 tablet(s)" in page.text
    unticked = client.post(f"/pharmacy-imports/{item.pk}/accept/", {})
    assert unticked.status_code == 400
    accepted = client.post(
        f"/pharmacy-imports/{item.pk}/accept/", {"confirm": "on", "idempotency_key": uuid.uuid4()}
    )
    assert accepted.status_code == 302
    item.line.refresh_from_db()
    assert item.line.status == LineStatus.ACTIVE
    client.force_login(carer_a)
    assert client.get(f"/residents/{resident_a.pk}/pharmacy-import/").status_code == 403
