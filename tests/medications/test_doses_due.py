"""The `doses_due` selector the MAR is built on (R-RX-3, R-RX-4, R-RX-10, R-RES-2, R-RES-5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from emar.models import Round
from emar.services import DomainError
from medications import selectors, services
from medications.services import ScheduleInput
from residents import services as resident_services
from residents.models import AllergyStatus
from tests.medications.factories import line, times
from tests.residents.factories import resident

LONDON_SPRING = dt.date(2026, 3, 29)


def _due(home, start, end=None, unit=None):
    return selectors.doses_due(home=home, start=start, end=end or start, unit=unit)


@pytest.fixture
def live(resident_a, senior_a, senior2_a):
    with time_machine.travel(dt.datetime(2026, 3, 20, 9, tzinfo=dt.UTC), tick=False):
        return line(
            resident_a,
            senior_a,
            checker=senior2_a,
            start_date=dt.date(2026, 3, 20),
            schedule=times("08:00", "22:00"),
        )


def test_named_rounds_follow_the_homes_round_times_across_the_clock_change(
    home_a, resident_a, senior_a, senior2_a
):
    morning = Round.objects.get(home=home_a, name="Morning")
    slot = ScheduleInput(slots=[(morning.time, morning.pk, morning.name)])
    with time_machine.travel(dt.datetime(2026, 3, 27, 9, tzinfo=dt.UTC), tick=False):
        line(
            resident_a, senior_a, checker=senior2_a, start_date=dt.date(2026, 3, 27), schedule=slot
        )
    due = _due(home_a, dt.date(2026, 3, 28), dt.date(2026, 3, 29))
    assert [(d.at.hour, d.label) for d in due] == [(8, "Morning"), (7, "Morning")]  # GMT, BST


def test_a_discharged_resident_has_nothing_due(home_a, resident_a, senior_a, live):
    day = dt.date(2026, 3, 25)
    assert len(_due(home_a, day)) == 2
    resident_services.resident_leave(
        resident=resident_a, by=senior_a, status="discharged", on=home_a.local_today()
    )
    assert _due(home_a, day) == []


def test_an_unknown_allergy_status_never_takes_a_live_line_off_the_round(
    home_a, resident_a, senior_a, live
):
    """R-RES-2, R-MAR-16, H-11: removing the last allergy back to "unknown" keeps every dose."""
    day = dt.date(2026, 3, 25)
    allergy = resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="Latex", reason="GP record"
    )
    resident_services.allergy_remove(
        allergy=allergy, by=senior_a, reason="error", new_status=AllergyStatus.UNKNOWN
    )
    resident_a.refresh_from_db()
    assert resident_a.allergy_status == AllergyStatus.UNKNOWN
    assert len(_due(home_a, day)) == 2


def test_due_doses_are_scoped_to_the_unit_and_the_home(
    home_a, unit_a, resident_a, senior_a, live, resident_b, home_b
):
    from tests.factories import UnitFactory

    willow = UnitFactory(home=home_a, name="Willow")
    day = dt.date(2026, 3, 25)
    assert len(_due(home_a, day, unit=unit_a)) == 2
    assert _due(home_a, day, unit=willow) == []
    assert _due(home_b, day) == []


def test_a_schedule_change_waits_for_its_check_and_never_rewrites_the_past(
    home_a, resident_a, senior_a, senior2_a, live
):
    before = _due(home_a, dt.date(2026, 3, 20), dt.date(2026, 3, 31))
    with time_machine.travel(dt.datetime(2026, 3, 25, 12, tzinfo=dt.UTC), tick=False):
        version = services.schedule_change(line=live, by=senior_a, schedule=times("09:00"))
        assert _due(home_a, dt.date(2026, 3, 20), dt.date(2026, 3, 31)) == before
        with pytest.raises(DomainError) as e:
            services.schedule_version_check(version=version, by=senior_a)
        assert e.value.code == "check_self"
    with time_machine.travel(dt.datetime(2026, 3, 25, 15, tzinfo=dt.UTC), tick=False):
        services.schedule_version_check(version=version, by=senior2_a)
    after = _due(home_a, dt.date(2026, 3, 20), dt.date(2026, 3, 31))
    cut = dt.datetime(2026, 3, 25, 15, tzinfo=dt.UTC)
    assert [d.at for d in after if d.at < cut] == [d.at for d in before if d.at < cut]
    assert {d.local_time for d in after if d.at >= cut} == {dt.time(9)}


def test_a_schedule_change_cannot_start_in_the_past(home_a, senior_a, live):
    from django.utils import timezone

    with pytest.raises(DomainError) as e:
        services.schedule_change(
            line=live,
            by=senior_a,
            schedule=times("09:00"),
            effective_from=timezone.now() - dt.timedelta(days=1),
        )
    assert e.value.code == "schedule_change_in_past"


INR = {"inr": Decimal("2.4"), "advised_by": "R Osei, anticoagulation clinic nurse"}


def test_warfarin_dose_is_entered_per_day_and_a_missing_day_says_so(
    home_a, resident_a, senior_a, senior2_a
):
    today = home_a.local_today()
    warfarin = line(
        resident_a,
        senior_a,
        checker=senior2_a,
        name="Warfarin 1mg tablets",
        schedule=times("18:00", dose_rule="variable"),
        start_date=today,
    )
    inr = {**INR, "inr_date": today}
    first_entry = services.variable_dose_set(
        line=warfarin, by=senior_a, day=today, dose=Decimal(3), **inr
    )
    services.variable_dose_check(entry=first_entry, by=senior2_a)
    newer = services.variable_dose_set(
        line=warfarin, by=senior2_a, day=today, dose=Decimal("2.5"), **inr
    )
    services.variable_dose_check(entry=newer, by=senior_a)
    tomorrow = today + dt.timedelta(days=1)
    first, second = _due(home_a, today, tomorrow)
    assert first.dose == Decimal("2.5") and first.dose_text == "2.5 tablet(s)"
    assert second.dose is None and second.needs_dose_entry
    with pytest.raises(DomainError) as e:
        services.variable_dose_set(
            line=warfarin, by=senior_a, day=today - dt.timedelta(days=1), dose=Decimal(1), **inr
        )
    assert e.value.code == "variable_dose_past"


def test_only_a_variable_line_takes_a_dose_per_day(home_a, senior_a, live):
    today = home_a.local_today()
    with pytest.raises(DomainError) as e:
        services.variable_dose_set(
            line=live, by=senior_a, day=today, dose=Decimal(1), inr_date=today, **INR
        )
    assert e.value.code == "not_variable"


def test_doses_due_uses_a_constant_number_of_queries(
    home_a, unit_a, senior_a, senior2_a, django_assert_max_num_queries
):
    day = home_a.local_today()

    def add(n):
        for _ in range(n):
            person = resident(unit_a, senior_a)
            line(person, senior_a, checker=senior2_a, start_date=day)
            line(
                person,
                senior_a,
                checker=senior2_a,
                start_date=day,
                name="Warfarin 1mg tablets",
                schedule=times("18:00", dose_rule="variable"),
            )

    add(2)
    with django_assert_max_num_queries(8):
        small = _due(home_a, day)
    add(10)
    with django_assert_max_num_queries(8):
        large = _due(home_a, day)
    assert len(small) == 6 and len(large) == 36
