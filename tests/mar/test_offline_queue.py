"""Records saved on a tablet without a connection and sent once back (R-OFF-1, R-OFF-2,
R-OFF-5, H-13): the server takes the tap's time, applies every rule (a late entry for the
outage once the window has closed), stores a record sent twice once, refuses a record of
someone else, and keeps a discarded refusal with its reason on the audit trail. The browser side
is tests/e2e/test_offline.py."""

from __future__ import annotations

import json
import uuid

import pytest
from django.urls import reverse

from emar.models import AuditEvent
from medications import services
from medications.models import LATE_REASON_QUEUED, Administration, OfflineDiscard
from tests.mar.conftest import DAY, at_local, dose_at
from tests.mar.test_round import post_dose
from tests.mar.url_params import build_downtime_kit

pytestmark = pytest.mark.django_db


def queued(when, by, **data):
    """The fields offline-queue.js sends for a record tapped at `when` by `by`."""
    data.setdefault("idempotency_key", str(uuid.uuid4()))
    return {**data, "queued_at": when.isoformat(), "queued_by": str(by.pk)}


def test_a_queued_dose_keeps_the_time_of_the_tap(client, clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    tapped = clock("08:05")
    clock("08:40")  # the network is back
    client.force_login(carer_a)
    assert post_dose(client, dose, **queued(tapped, carer_a)).status_code == 200
    record = Administration.objects.get()
    assert record.administered_at == tapped
    assert record.recorded_by == carer_a
    assert not record.late and record.late_reason == ""


def test_a_queued_dose_sent_after_its_window_is_a_late_entry_for_the_outage(
    client, clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    tapped = clock("08:10")
    clock("11:30")
    client.force_login(carer_a)
    assert post_dose(client, dose, **queued(tapped, carer_a)).status_code == 200
    record = Administration.objects.get()
    assert record.administered_at == tapped
    assert record.late and record.late_reason == LATE_REASON_QUEUED


def test_a_queued_dose_sent_twice_is_stored_once(client, clock, qualified, paracetamol, carer_a):
    """The retry after an answer lost on the way back (R-OFF-2)."""
    dose = dose_at(paracetamol, "08:00")
    tapped = clock("08:05")
    clock("08:30")
    client.force_login(carer_a)
    data = queued(tapped, carer_a)
    assert post_dose(client, dose, **data).status_code == 200
    assert post_dose(client, dose, **data).status_code == 200
    assert Administration.objects.count() == 1
    assert AuditEvent.objects.filter(action="mar.dose.given").count() == 1


def test_a_queued_dose_recorded_meanwhile_by_someone_else_is_refused_with_who(
    client, clock, qualified, paracetamol, carer_a, senior_a
):
    dose = dose_at(paracetamol, "08:00")
    tapped = clock("08:05")
    services.administration_record(
        dose=dose, by=senior_a, idempotency_key=uuid.uuid4(), outcome="given"
    )
    clock("08:30")
    client.force_login(carer_a)
    response = post_dose(client, dose, **queued(tapped, carer_a))
    assert response.status_code == 409
    assert "Already recorded by" in response.content.decode()
    assert Administration.objects.get().recorded_by == senior_a


def test_the_rules_apply_to_the_tap_time(client, clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:30")
    client.force_login(carer_a)
    too_early = at_local(dose.home, DAY, "06:00")
    response = post_dose(client, dose, **queued(too_early, carer_a))
    assert response.status_code == 422 and "Too early" in response.content.decode()
    future = at_local(dose.home, DAY, "09:30")
    assert post_dose(client, dose, **queued(future, carer_a)).status_code == 422
    assert not Administration.objects.exists()


def test_a_record_queued_by_someone_else_is_not_sent_under_this_name(
    client, clock, qualified, paracetamol, carer_a, senior_a
):
    """R-OFF-5: queued records stay tied to the person who tapped them."""
    dose = dose_at(paracetamol, "08:00")
    tapped = clock("08:05")
    client.force_login(carer_a)
    response = post_dose(client, dose, **queued(tapped, senior_a))
    assert response.status_code == 400
    assert "Saved on this tablet by someone else" in response.content.decode()
    assert not Administration.objects.exists()


def discard_url(dose):
    return reverse("medications:dose_offline_discard", args=[dose.pk])


def discard_data(tapped, by, **data):
    key = str(uuid.uuid4())
    payload = {"idempotency_key": key, "outcome": "given", "queued_at": tapped.isoformat()}
    payload["witness_password"] = "never kept"
    return {
        "idempotency_key": key,
        "tapped_at": tapped.isoformat(),
        "outcome": "given",
        "reason": "Given by the senior; my tap was for the same dose",
        "refusal": "Already recorded by Sam Senior at 08:06",
        "payload": json.dumps(payload),
        **data,
    }


def test_a_discarded_refusal_is_kept_with_its_reason_on_the_audit_trail(
    client, clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    tapped = clock("08:05")
    client.force_login(carer_a)
    data = discard_data(tapped, carer_a)
    assert client.post(discard_url(dose), data).status_code == 200
    assert client.post(discard_url(dose), data).status_code == 200  # sent twice: kept once
    discard = OfflineDiscard.objects.get()
    assert discard.dose == dose and discard.discarded_by == carer_a
    assert discard.tapped_at == tapped and discard.reason.startswith("Given by the senior")
    assert "witness_password" not in discard.payload
    event = AuditEvent.objects.get(action="mar.offline.discarded")
    assert event.after["refusal"].startswith("Already recorded")
    assert not Administration.objects.exists()


def test_a_discard_needs_a_reason(client, clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    tapped = clock("08:05")
    client.force_login(carer_a)
    response = client.post(discard_url(dose), discard_data(tapped, carer_a, reason=" "))
    assert response.status_code in (400, 422) and "error" in response.json()
    bad = client.post(discard_url(dose), discard_data(tapped, carer_a, payload="[1"))
    assert bad.status_code == 400
    assert not OfflineDiscard.objects.exists()
    assert not AuditEvent.objects.filter(action="mar.offline.discarded").exists()


def test_an_outsider_cannot_discard_and_anonymous_is_sent_to_sign_in(
    client, clock, qualified, paracetamol, carer_b
):
    dose = dose_at(paracetamol, "08:00")
    tapped = clock("08:05")
    assert client.post(discard_url(dose), discard_data(tapped, carer_b)).status_code == 302
    client.force_login(carer_b)
    assert client.post(discard_url(dose), discard_data(tapped, carer_b)).status_code == 404
    assert not OfflineDiscard.objects.exists()


def test_the_manager_sees_when_each_units_downtime_kit_was_last_built(
    client, clock, home_a, unit_a, manager_a
):
    page = reverse("medications:paper_round", args=[home_a.pk, unit_a.pk])
    client.force_login(manager_a)
    assert "not built yet" in client.get(page).content.decode()
    build_downtime_kit(home=home_a, unit=unit_a)
    html = client.get(page).content.decode()
    assert "Downtime kits" in html and "last built" in html
