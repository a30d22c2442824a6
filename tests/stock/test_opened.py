"""Opened medicines (R-STK-7, H-15): the date opened and the in-use expiry computed from the
product's shelf life after opening, the round's warning, the "expiring this week" list and the
monthly audit's counts. "Today" is Wednesday 25 Nov 2026 (tests/mar/conftest.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from audits import dashboard, metrics
from emar.models import AuditEvent
from medications import services
from medications.models import Medicine, OpenedSupply, OpenedSupplyEnd
from medications.services import OpenedError
from medications.shelf_life import opening_kind, shelf_life
from tests.mar.conftest import DAY, at_local
from tests.mar.test_round import round_url
from tests.stock.conftest import receive

pytestmark = pytest.mark.usefixtures("postgres")

EYE_DROPS = "Hypromellose 0.3% eye drops"


@pytest.fixture
def eye_drops(make_line):
    return make_line(EYE_DROPS, dose_unit="drop", route="eye")


def open_on(line, by, day: dt.date, **kw):
    return services.supply_open(line=line, by=by, opened_at=at_local(line.home, day, "09:00"), **kw)


# --- the shelf life after opening -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "route", "kind", "days"),
    [
        ("eye drops", "ophthalmic", "eye_drops", 28),
        ("ear drops", "", "ear_drops", 28),
        ("cream", "cutaneous", "cream", 28),
        ("ointment", "cutaneous", "ointment", 90),
        ("oral solution", "oral", "oral_liquid", 180),
        ("oral suspension", "oral", "oral_liquid", 180),
        ("pressurised inhaler", "inhalation", "inhaler", None),
        ("tablets", "oral", "", None),
        ("transdermal patches", "transdermal", "", None),
        ("nebuliser liquid unit dose vials", "inhalation", "", None),
        ("solution for injection ampoules", "parenteral (injection)", "", None),
    ],
)
def test_which_forms_record_their_opening_and_their_default_shelf_life(form, route, kind, days):
    assert opening_kind(form, route) == kind
    life = shelf_life(form=form, route=route)
    assert (life.days if life else None) == days
    if life:
        assert life.basis  # where the figure comes from is always said


def test_the_products_own_shelf_life_wins_over_the_forms_default():
    life = shelf_life(form="eye drops", in_use_days=7, in_use_basis="SmPC: 7 days")
    assert (life.days, life.basis) == (7, "SmPC: 7 days")


def test_the_reference_catalogue_is_filled_by_form(db):
    assert Medicine.objects.get(name=EYE_DROPS).in_use_days == 28
    assert "eye drops" in Medicine.objects.get(name=EYE_DROPS).in_use_basis
    assert Medicine.objects.get(name="Clotrimazole 1% cream").in_use_days == 28
    assert Medicine.objects.get(name="Fortisip Compact liquid").in_use_days == 1
    assert Medicine.objects.get(name="Paracetamol 500mg tablets").in_use_days is None


# --- the service ------------------------------------------------------------------------------


def test_opening_eye_drops_gives_an_in_use_expiry_28_days_on(
    clock, qualified, eye_drops, senior_a, carer_a
):
    receive(eye_drops, senior_a, 1)
    clock("09:30")
    opening = services.supply_open(line=eye_drops, by=carer_a)
    assert opening.opened_on == DAY
    # Opened on the 25th, 28 days: used up to the 22nd of next month, discarded on the 23rd.
    assert opening.in_use_expiry == DAY + dt.timedelta(days=27)
    assert opening.in_use_days == 28 and "eye drops" in opening.shelf_life_basis
    assert opening.opened_by == carer_a and opening.resident_id == eye_drops.resident_id
    assert not opening.expired_on(DAY + dt.timedelta(days=27))
    assert opening.expired_on(DAY + dt.timedelta(days=28))
    assert AuditEvent.objects.filter(action="stock.opened", object_id=str(opening.pk)).exists()


def test_the_pack_expiry_wins_when_sooner_and_the_batch_comes_from_the_delivery(
    clock, qualified, eye_drops, senior_a, carer_a
):
    clock("09:00", DAY)
    receive(eye_drops, senior_a, 1, batch="HY123", expiry=DAY + dt.timedelta(days=10))
    opening = services.supply_open(line=eye_drops, by=carer_a)
    assert (opening.batch, opening.pack_expiry) == ("HY123", DAY + dt.timedelta(days=10))
    assert opening.in_use_expiry == DAY + dt.timedelta(days=10)


def test_opening_a_product_with_no_stock_is_refused_and_writes_nothing(
    clock, qualified, eye_drops, carer_a
):
    events = AuditEvent.objects.count()
    with pytest.raises(OpenedError) as err:
        services.supply_open(line=eye_drops, by=carer_a)
    assert err.value.code == "no_stock"
    assert not OpenedSupply.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("days", "code"),
    [(-1, "future_time"), (400, "too_old")],
)
def test_bad_dates_opened_are_refused(clock, qualified, eye_drops, senior_a, carer_a, days, code):
    receive(eye_drops, senior_a, 1)
    clock("09:00", DAY)
    with pytest.raises(OpenedError) as err:
        open_on(eye_drops, carer_a, DAY - dt.timedelta(days=days))
    assert err.value.code == code
    assert not OpenedSupply.objects.exists()


def test_a_pack_past_its_own_expiry_cannot_be_recorded_opened(
    clock, qualified, eye_drops, senior_a, carer_a
):
    receive(eye_drops, senior_a, 1)
    clock("09:00", DAY)
    with pytest.raises(OpenedError) as err:
        services.supply_open(line=eye_drops, by=carer_a, pack_expiry=DAY - dt.timedelta(days=1))
    assert err.value.code == "pack_expired"


def test_tablets_are_not_recorded_opened(clock, qualified, paracetamol, senior_a, carer_a):
    receive(paracetamol, senior_a, 28)
    with pytest.raises(OpenedError) as err:
        services.supply_open(line=paracetamol, by=carer_a)
    assert err.value.code == "not_tracked"


def test_the_same_form_submitted_twice_records_one_opening(
    clock, qualified, eye_drops, senior_a, carer_a
):
    receive(eye_drops, senior_a, 1)
    key = uuid.uuid4()
    first = services.supply_open(line=eye_drops, by=carer_a, idempotency_key=key)
    second = services.supply_open(line=eye_drops, by=carer_a, idempotency_key=key)
    assert first.pk == second.pk and OpenedSupply.objects.count() == 1


def test_finishing_a_pack_is_a_new_entry_made_once(clock, qualified, eye_drops, senior_a, carer_a):
    receive(eye_drops, senior_a, 1)
    opening = services.supply_open(line=eye_drops, by=carer_a)
    expiry = opening.in_use_expiry
    services.supply_end(opening=opening, by=carer_a, kind="discarded")
    with pytest.raises(OpenedError) as err:
        services.supply_end(opening=opening, by=carer_a, kind="finished")
    assert err.value.code == "ended"
    assert OpenedSupplyEnd.objects.count() == 1
    opening.refresh_from_db()
    assert opening.in_use_expiry == expiry  # the opening itself is never changed
    states = services.opened_states(lines=[eye_drops], today=DAY)
    assert states[eye_drops.pk].needs_opening


# --- the round --------------------------------------------------------------------------------


def test_the_round_warns_on_a_pack_past_its_in_use_expiry(
    client, clock, qualified, home_a, unit_a, eye_drops, senior_a, carer_a
):
    receive(eye_drops, senior_a, 1)
    open_on(eye_drops, carer_a, DAY - dt.timedelta(days=3 + 29))
    clock("08:05")
    client.force_login(carer_a)
    page = client.get(round_url(home_a, unit_a)).content.decode()
    assert "Past its in-use expiry" in page
    assert "Record a new pack opened" in page
    assert "dose-given-button" in page  # a warning, not a block


def test_the_round_offers_record_opened_when_no_date_is_recorded(
    client, clock, qualified, home_a, unit_a, eye_drops, paracetamol, senior_a, carer_a
):
    receive(eye_drops, senior_a, 1)
    clock("08:05")
    client.force_login(carer_a)
    page = client.get(round_url(home_a, unit_a)).content.decode()
    assert "No date opened recorded" in page
    assert page.count("Record opened") == 1  # the eye drops on this round, not the tablets
    response = client.post(
        reverse("medications:supply_open", args=[eye_drops.pk]),
        {"opened_on": DAY.isoformat(), "batch": "B7", "next": round_url(home_a, unit_a)},
    )
    assert response.status_code == 302 and response["Location"] == round_url(home_a, unit_a)
    page = client.get(round_url(home_a, unit_a)).content.decode()
    assert "Opened 25 Nov · use until 22 Dec" in page
    assert "No date opened recorded" not in page


def test_recording_opened_with_no_stock_is_a_clear_422(
    client, clock, qualified, eye_drops, carer_a
):
    client.force_login(carer_a)
    response = client.post(
        reverse("medications:supply_open", args=[eye_drops.pk]), {"opened_on": "2026-11-22"}
    )
    assert response.status_code == 422
    assert "no stock" in response.content.decode()
    assert not OpenedSupply.objects.exists()


def test_an_outsider_cannot_record_opened(client, clock, eye_drops, senior_a, carer_b):
    receive(eye_drops, senior_a, 1)
    client.force_login(carer_b)
    response = client.post(
        reverse("medications:supply_open", args=[eye_drops.pk]), {"opened_on": "2026-11-22"}
    )
    assert response.status_code == 404
    assert not OpenedSupply.objects.exists()


# --- the list, the dashboard and the audit ----------------------------------------------------


def test_the_list_shows_what_expires_this_week_and_what_has_no_date(
    client, clock, qualified, home_a, unit_a, eye_drops, make_line, senior_a, carer_a, manager_a
):
    cream = make_line("Clotrimazole 1% cream", dose_unit="application", route="topical")
    receive(eye_drops, senior_a, 1)
    receive(cream, senior_a, 1)
    open_on(eye_drops, carer_a, DAY - dt.timedelta(days=26))  # last day of use: DAY + 1
    clock("10:00", DAY)
    rows = services.opened_expiring(home=home_a, today=DAY)
    assert [o.line_id for o in rows] == [eye_drops.pk]
    client.force_login(manager_a)
    url = reverse("medications:opened_list", args=[home_a.pk])
    page = client.get(url, {"unit": unit_a.pk}).content.decode()
    assert EYE_DROPS in page and "Expires this week" in page
    assert "Clotrimazole 1% cream" in page  # in "no date opened recorded"
    assert client.get(url, {"unit": "999999"}).status_code == 400
    figures = dashboard.home_figures(home_a)
    assert [o.line_id for o in figures.opened_expiring] == [eye_drops.pk]
    client.post(
        reverse("medications:supply_end", args=[eye_drops.pk]), {"kind": "discarded", "next": url}
    )
    assert services.opened_expiring(home=home_a, today=DAY) == []


def test_the_monthly_audit_counts_opened_products_with_and_without_dates_and_past_expiry(
    clock, qualified, home_a, eye_drops, make_line, paracetamol, senior_a, carer_a
):
    cream = make_line("Clotrimazole 1% cream", dose_unit="application", route="topical")
    solution = make_line("Nystatin 100,000units/ml oral suspension", dose_unit="ml")
    for line in (eye_drops, cream, solution):
        receive(line, senior_a, 1)
    open_on(eye_drops, carer_a, DAY - dt.timedelta(days=3 + 29))  # past its 28 days by DAY
    open_on(cream, carer_a, DAY - dt.timedelta(days=3))
    clock("10:00", DAY)
    m = metrics.compute(home_a, DAY.replace(day=1))
    assert m["stock"]["opened"] == {
        "tracked": 3,
        "with_date": 2,
        "without_date": 1,
        "past_expiry": 1,
    }


def test_the_demo_has_an_opened_eye_drop_expiring_this_week(demo_db):
    from emar.models import CareHome

    found = [
        o
        for home in CareHome.objects.all()
        for o in services.opened_expiring(home=home, today=home.local_today())
        if "eye drops" in o.line.medicine.name.lower()
    ]
    assert found
    assert all(Decimal(0) <= o.days_left(o.home.local_today()) < 7 for o in found)


def test_the_checklist_cannot_say_in_use_expiry_is_kept_when_a_pack_is_past_it():
    from audits.consistency import contradictions

    metrics = {"stock": {"opened": {"past_expiry": 1, "without_date": 2}}}
    found = contradictions(metrics, {"storage-dates": ("yes", "")})
    assert [(c.question, c.blocks) for c in found] == [("storage-dates", True)]
    assert contradictions(metrics, {"storage-dates": ("no", "one bottle found")}) == []
