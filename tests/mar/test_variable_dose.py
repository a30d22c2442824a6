"""Variable doses entered per day, e.g. warfarin by INR (R-RX-3): the INR, its date and who
advised are recorded, and a second, different senior checks the dose (R-RX-4) before it
reaches the round. On PostgreSQL in CI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from emar.services import DomainError
from medications import selectors, services
from medications.models import VariableDose
from medications.services import DoseError
from tests.mar.conftest import DAY, dose_at, key
from tests.medications.factories import times

ADVISER = "R Osei, anticoagulation clinic nurse"


@pytest.fixture
def warfarin(make_line):
    return make_line(name="Warfarin 1mg tablets", schedule=times("18:00", dose_rule="variable"))


def enter(line, by, *, day=DAY, dose=Decimal(3), **kw):
    fields = {"inr": Decimal("2.4"), "inr_date": DAY - dt.timedelta(days=1), "advised_by": ADVISER}
    fields.update(kw)
    return services.variable_dose_set(line=line, by=by, day=day, dose=dose, **fields)


def due_today(home):
    (due,) = selectors.doses_due(home=home, start=DAY, end=DAY)
    return due


def test_an_unchecked_variable_dose_is_not_on_the_round(
    clock, qualified, warfarin, senior_a, senior2_a, carer_a, home_a
):
    clock("09:00")
    entry = enter(warfarin, senior_a)
    due = due_today(home_a)
    assert due.dose is None and due.needs_dose_entry
    assert "awaiting a second senior's check" in due.dose_text
    dose = dose_at(warfarin, "18:00")
    clock("18:00")
    with pytest.raises(DoseError) as e:
        services.administration_record(
            dose=dose, by=carer_a, outcome="given", idempotency_key=key()
        )
    assert e.value.code == "dose_not_entered"
    clock("09:05")
    services.variable_dose_check(entry=entry, by=senior2_a)
    assert due_today(home_a).dose == Decimal(3)
    dose = dose_at(warfarin, "18:00")
    clock("18:00")
    record = services.administration_record(
        dose=dose, by=carer_a, outcome="given", idempotency_key=key()
    )
    assert record.quantity == Decimal(3)


def test_a_newer_unchecked_entry_holds_the_day_until_it_is_checked(
    clock, warfarin, senior_a, senior2_a, home_a
):
    """The older checked dose is not given once the INR advice changed: the day waits."""
    clock("09:00")
    services.variable_dose_check(entry=enter(warfarin, senior_a), by=senior2_a)
    newer = enter(warfarin, senior_a, dose=Decimal("1.5"), inr=Decimal("4.1"))
    assert due_today(home_a).dose is None
    services.variable_dose_check(entry=newer, by=senior2_a)
    assert due_today(home_a).dose == Decimal("1.5")


def test_the_same_person_cannot_check_their_own_dose(clock, warfarin, senior_a, carer_a):
    clock("09:00")
    entry = enter(warfarin, senior_a)
    with pytest.raises(DomainError) as e:
        services.variable_dose_check(entry=entry, by=senior_a)
    assert e.value.code == "check_self"
    with pytest.raises(DomainError) as e:
        services.variable_dose_check(entry=entry, by=carer_a)
    assert e.value.code == "check_not_senior"
    with pytest.raises(IntegrityError), transaction.atomic():
        VariableDose.objects.filter(pk=entry.pk).update(
            checked_by=senior_a, checked_at=entry.entered_at
        )


def test_a_dose_is_checked_once(clock, warfarin, senior_a, senior2_a, manager_a):
    clock("09:00")
    entry = services.variable_dose_check(entry=enter(warfarin, senior_a), by=senior2_a)
    with pytest.raises(DomainError) as e:
        services.variable_dose_check(entry=entry, by=manager_a)
    assert e.value.code == "not_awaiting_check"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"inr": None}, "inr_required"),
        ({"inr": Decimal("0.4")}, "inr_out_of_range"),
        ({"inr": Decimal("15.1")}, "inr_out_of_range"),
        ({"inr_date": None}, "inr_date_required"),
        ({"inr_date": DAY + dt.timedelta(days=1)}, "inr_date_future"),
        ({"inr_date": DAY - dt.timedelta(days=29)}, "inr_too_old"),
        ({"advised_by": "  "}, "advised_by_required"),
    ],
)
def test_inr_date_and_adviser_are_required_and_bounded(clock, warfarin, senior_a, fields, code):
    clock("09:00")
    with pytest.raises(DomainError) as e:
        enter(warfarin, senior_a, **fields)
    assert e.value.code == code
    assert not VariableDose.objects.exists()


def test_inr_bounds_are_inclusive(clock, warfarin, senior_a):
    clock("09:00")
    enter(warfarin, senior_a, inr=Decimal("0.5"), inr_date=DAY - dt.timedelta(days=28))
    enter(warfarin, senior_a, inr=Decimal("15"), inr_date=DAY)
    assert VariableDose.objects.count() == 2


def test_the_awaiting_check_page_lists_and_checks_variable_doses(
    client, clock, warfarin, senior_a, senior2_a, home_a
):
    clock("09:00")
    client.force_login(senior_a)
    form = {
        "day": DAY.isoformat(),
        "dose": "3",
        "inr": "2.4",
        "inr_date": (DAY - dt.timedelta(days=1)).isoformat(),
        "advised_by": ADVISER,
    }
    assert (
        client.post(
            reverse("medications:variable_doses", args=[warfarin.pk]), {**form, "inr": "22"}
        ).status_code
        == 400
    )
    assert (
        client.post(reverse("medications:variable_doses", args=[warfarin.pk]), form).status_code
        == 302
    )
    entry = VariableDose.objects.get()
    page = client.get(reverse("medications:awaiting_check", args=[home_a.pk])).content.decode()
    assert "INR 2.4" in page and "You entered it" in page
    refused = client.post(reverse("medications:variable_dose_check", args=[entry.pk]))
    assert refused.status_code == 422 and "cannot check it" in refused.content.decode()
    client.force_login(senior2_a)
    assert (
        client.post(reverse("medications:variable_dose_check", args=[entry.pk])).status_code == 302
    )
    entry.refresh_from_db()
    assert entry.checked_by == senior2_a


def test_variable_dose_check_is_scoped(client, clock, warfarin, senior_a, carer_b):
    clock("09:00")
    entry = enter(warfarin, senior_a)
    client.force_login(carer_b)
    assert (
        client.post(reverse("medications:variable_dose_check", args=[entry.pk])).status_code == 404
    )
    client.logout()
    response = client.post(reverse("medications:variable_dose_check", args=[entry.pk]))
    assert response.status_code == 302 and "login" in response.url


def test_an_entry_without_an_inr_cannot_be_checked(clock, warfarin, senior_a, senior2_a):
    """Entries made before R-RX-3 asked for the INR stay off the round."""
    clock("09:00")
    legacy = VariableDose.objects.create(
        line=warfarin, day=DAY, dose=Decimal(3), entered_by=senior_a
    )
    with pytest.raises(DomainError) as e:
        services.variable_dose_check(entry=legacy, by=senior2_a)
    assert e.value.code == "inr_required"
