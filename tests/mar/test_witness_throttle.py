"""R-SEC-6: wrong witness passwords on a carer's round are throttled per tablet and witness,
say how many tries are left, never lock the witness's own account, and a manager can unlock."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.urls import reverse

from emar.models import AuditEvent, WitnessThrottle
from medications.models import Administration
from tests.factories import TEST_PASSWORD
from tests.mar.conftest import dose_at
from tests.mar.test_round import post_dose


def _cd_dose(make_line, clock):
    cd = make_line("Oxycodone 10mg capsules", dose_unit="capsule")
    dose = dose_at(cd, "08:00")
    clock("08:05")
    return dose


def test_wrong_witness_passwords_count_down_then_refuse_on_this_tablet(
    client, clock, qualified, make_line, carer_a, senior_a, settings
):
    settings.WITNESS_FAILURE_LIMIT = 3
    dose = _cd_dose(make_line, clock)
    client.force_login(carer_a)
    said = [
        post_dose(
            client, dose, witness_username="senior_a", witness_password="nope"
        ).content.decode()
        for _ in range(3)
    ]
    assert "Wrong password for the witness. 2 tries left on this tablet." in said[0]
    assert "Wrong password for the witness. 1 try left on this tablet." in said[1]
    throttled = (
        "Too many wrong witness passwords on this tablet: try again in 15 minutes, "
        "or ask a manager to unlock."
    )
    assert throttled in said[2]
    right = post_dose(client, dose, witness_username="senior_a", witness_password=TEST_PASSWORD)
    assert right.status_code == 400 and throttled in right.content.decode()
    assert not Administration.objects.exists()
    # The senior's own account is not locked: no sign-in failure was counted against it.
    assert not AccessAttempt.objects.filter(username="senior_a").exists()
    client.logout()
    signed_in = client.post(reverse("login"), {"username": "senior_a", "password": TEST_PASSWORD})
    assert signed_in.status_code == 302


def test_another_tablet_is_not_throttled(
    client, clock, qualified, make_line, carer_a, senior_a, settings
):
    settings.WITNESS_FAILURE_LIMIT = 2
    dose = _cd_dose(make_line, clock)
    client.force_login(carer_a)
    for _ in range(2):
        post_dose(client, dose, witness_username="senior_a", witness_password="nope")
    assert WitnessThrottle.objects.get().locked_until is not None
    client.cookies.pop("emar_device")  # a different browser: no device cookie yet
    client.force_login(carer_a)
    ok = post_dose(client, dose, witness_username="senior_a", witness_password=TEST_PASSWORD)
    assert ok.status_code == 200
    assert Administration.objects.get().witness == senior_a


def test_a_manager_unlocks_the_witness_from_the_staff_screen(
    client, clock, qualified, make_line, carer_a, senior_a, manager_a, home_a, settings
):
    settings.WITNESS_FAILURE_LIMIT = 2
    dose = _cd_dose(make_line, clock)
    client.force_login(carer_a)
    for _ in range(2):
        post_dose(client, dose, witness_username="Senior_A", witness_password="nope")
    tablet = client.cookies["emar_device"]
    throttle = WitnessThrottle.objects.get()
    assert throttle.witness == senior_a and throttle.home == home_a

    client.force_login(manager_a)
    page = client.get(reverse("staff", args=[home_a.pk])).content.decode()
    assert "Witnesses refused on a tablet" in page and "refused until" in page
    clear = client.post(reverse("witness_lock_clear", args=[home_a.pk, throttle.pk]))
    assert clear.status_code == 302
    assert not WitnessThrottle.objects.exists()
    assert AuditEvent.objects.filter(action="witness_lock.cleared", actor=manager_a).exists()

    client.cookies["emar_device"] = tablet
    client.force_login(carer_a)
    ok = post_dose(client, dose, witness_username="senior_a", witness_password=TEST_PASSWORD)
    assert ok.status_code == 200


def test_a_witness_whose_sign_in_is_locked_is_told_in_plain_english(
    client, clock, qualified, make_line, carer_a, senior_a, settings
):
    dose = _cd_dose(make_line, clock)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "senior_a", "password": "nope"})
    client.force_login(carer_a)
    refused = post_dose(client, dose, witness_username="senior_a", witness_password=TEST_PASSWORD)
    text = refused.content.decode()
    assert refused.status_code == 400
    assert "locked after wrong sign-in passwords: try again in 15 minutes" in text
    assert "PT15M" not in text
