"""R-RX-4 / H-8: a transcribed line goes live only after a second, different senior checks it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from emar.models import AuditEvent
from emar.services import DomainError
from medications import selectors, services
from medications.models import LineStatus, PrescriptionLine
from tests.medications.factories import line


def _today(home):
    return home.local_today()


def test_a_new_line_awaits_its_check_and_is_not_due(home_a, resident_a, senior_a):
    entered = line(resident_a, senior_a)
    assert entered.status == LineStatus.AWAITING_CHECK
    assert selectors.doses_due(home=home_a, start=_today(home_a), end=_today(home_a)) == []


def test_the_person_who_entered_a_line_cannot_check_it(resident_a, senior_a):
    entered = line(resident_a, senior_a)
    with pytest.raises(DomainError) as e:
        services.line_check(line=entered, by=senior_a)
    assert e.value.code == "check_self"
    entered.refresh_from_db()
    assert entered.status == LineStatus.AWAITING_CHECK


def test_a_carer_cannot_check_a_line(resident_a, senior_a, carer_a):
    entered = line(resident_a, senior_a)
    with pytest.raises(DomainError) as e:
        services.line_check(line=entered, by=carer_a)
    assert e.value.code == "check_not_senior"


def test_an_inspector_cannot_check_a_line(resident_a, senior_a, inspector_a):
    entered = line(resident_a, senior_a)
    with pytest.raises(DomainError) as e:
        services.line_check(line=entered, by=inspector_a)
    assert e.value.code == "check_not_senior"


def test_a_second_senior_checks_and_the_line_goes_live(home_a, resident_a, senior_a, senior2_a):
    entered = line(resident_a, senior_a)
    checked = services.line_check(line=entered, by=senior2_a)
    assert checked.status == LineStatus.ACTIVE
    assert checked.checked_by == senior2_a
    today = _today(home_a)
    due = selectors.doses_due(home=home_a, start=today, end=today)
    assert [d.local_time for d in due] == [dt.time(8), dt.time(20)]
    assert AuditEvent.objects.filter(action="prescription.checked", object_id=str(entered.pk))


def test_checked_line_has_no_doses_before_the_day_of_its_check(
    home_a, resident_a, senior_a, senior2_a
):
    entered = line(resident_a, senior_a, start_date=_today(home_a) - dt.timedelta(days=5))
    services.line_check(line=entered, by=senior2_a)
    today = _today(home_a)
    due = selectors.doses_due(home=home_a, start=today - dt.timedelta(days=5), end=today)
    assert {d.local_date for d in due} == {today}


def test_a_line_is_checked_once(resident_a, senior_a, senior2_a, manager_a):
    entered = line(resident_a, senior_a, checker=senior2_a)
    with pytest.raises(DomainError) as e:
        services.line_check(line=entered, by=manager_a)
    assert e.value.code == "not_awaiting_check"


def test_the_database_refuses_a_line_checked_by_its_own_author(resident_a, senior_a):
    entered = line(resident_a, senior_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        PrescriptionLine.objects.filter(pk=entered.pk).update(
            checked_by=senior_a, checked_at=entered.entered_at, status=LineStatus.ACTIVE
        )


def test_the_database_refuses_a_live_line_without_a_check(resident_a, senior_a):
    entered = line(resident_a, senior_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        PrescriptionLine.objects.filter(pk=entered.pk).update(status=LineStatus.ACTIVE)


def test_a_carer_cannot_enter_a_line(resident_a, carer_a):
    with pytest.raises(DomainError) as e:
        line(resident_a, carer_a)
    assert e.value.code == "not_permitted"
