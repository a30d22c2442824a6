"""Homely remedies (R-MAR-11, NICE SC1): the home's list, the resident's GP or pharmacist
authorisation, the interval, 24-hour and day limits, and the second senior's override for a
prescribed duplicate ingredient or an allergy match. On PostgreSQL in CI.

"Today" is DAY (Wednesday 25 Nov 2026) unless a test moves the clock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from emar.services import DomainError
from medications import services
from medications.chart import mar_chart
from medications.models import HomelyRemedy, HomelyRemedyDose, Medicine
from medications.services import DoseError
from residents import services as resident_services
from tests.mar.conftest import DAY, ONE, key

PARACETAMOL = "Paracetamol 500mg soluble tablets"


def remedy_for(home, name: str = PARACETAMOL, **kw) -> HomelyRemedy:
    fields = {
        "indication": "Mild pain or fever",
        "dose": Decimal(1),
        "dose_max": Decimal(2),
        "dose_unit": "tablet",
        "dose_guidance": "1 to 2 tablets, at least 4 hours apart",
        "min_interval_minutes": 240,
        "max_doses_24h": 4,
        "max_days": 2,
    }
    fields.update(kw)
    return HomelyRemedy.objects.create(
        home=home, medicine=Medicine.objects.get(name=name), **fields
    )


def authorise(resident, remedy, by, **kw):
    today = resident.home.local_today()
    fields = {
        "authorised_by_name": "Dr A Shah",
        "authorised_by_role": "gp",
        "authorised_on": today - dt.timedelta(days=10),
        "review_date": today + dt.timedelta(days=90),
        "exclusions": "None",
    }
    fields.update(kw)
    return services.homely_authorisation_record(resident=resident, remedy=remedy, by=by, **fields)


def give(resident, remedy, by, **kw):
    fields = {"quantity": ONE, "reason": "Headache", "idempotency_key": key()}
    fields.update(kw)
    return services.homely_remedy_give(resident=resident, remedy=remedy, by=by, **fields)


@pytest.fixture
def remedy(home_a):
    return remedy_for(home_a)


@pytest.fixture
def authorised(resident_a, remedy, senior_a, qualified, clock):
    return authorise(resident_a, remedy, senior_a)


# --- the authorisation ---------------------------------------------------------------------------


def test_a_remedy_cannot_be_given_without_the_residents_authorisation(
    clock, qualified, resident_a, remedy, carer_a
):
    clock("14:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a)
    assert e.value.code == "homely_not_authorised"
    assert not HomelyRemedyDose.objects.exists()


def test_an_authorisation_is_recorded_by_a_senior_with_who_when_review_and_exclusions(
    clock, qualified, resident_a, remedy, carer_a, senior_a
):
    with pytest.raises(DomainError) as e:
        authorise(resident_a, remedy, carer_a)
    assert e.value.code == "not_senior"
    for missing, code in (
        ({"authorised_by_name": " "}, "authoriser_required"),
        ({"authorised_by_role": "carer"}, "authoriser_role"),
        ({"exclusions": ""}, "exclusions_required"),
        ({"authorised_on": DAY}, "authorised_in_future"),
        ({"review_date": DAY - dt.timedelta(days=3)}, "review_date_not_future"),
        ({"review_date": DAY + dt.timedelta(days=400)}, "review_date_too_far"),
    ):
        with pytest.raises(DomainError) as e:
            authorise(resident_a, remedy, senior_a, **missing)
        assert e.value.code == code, missing
    made = authorise(resident_a, remedy, senior_a, authorised_by_role="pharmacist")
    assert made.recorded_by == senior_a and made.medicine == remedy.medicine


def test_an_authorisation_needs_a_known_allergy_status(clock, qualified, unit_a, remedy, senior_a):
    from tests.residents.factories import resident

    unknown = resident(unit_a, senior_a, allergy_status="unknown")
    with pytest.raises(DomainError) as e:
        authorise(unknown, remedy, senior_a)
    assert e.value.code == "allergy_status_unknown"


def test_an_expired_authorisation_blocks(
    clock, time_machine, qualified, resident_a, remedy, senior_a, carer_a
):
    authorise(resident_a, remedy, senior_a, review_date=DAY - dt.timedelta(days=1))
    clock("14:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a)
    assert e.value.code == "homely_authorisation_expired"
    assert "review date" in e.value.message


def test_a_withdrawn_authorisation_allows_nothing(
    clock, authorised, resident_a, remedy, senior_a, carer_a
):
    services.homely_authorisation_withdraw(
        authorisation=authorised,
        by=senior_a,
        reason="GP: no paracetamol while on the new pain plan",
    )
    clock("14:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a)
    assert e.value.code == "homely_not_authorised"


# --- limits --------------------------------------------------------------------------------------


def test_the_dose_comes_from_the_homes_list(clock, authorised, resident_a, remedy, carer_a):
    clock("14:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a, quantity=Decimal(4))
    assert e.value.code == "quantity_out_of_range"
    assert give(resident_a, remedy, carer_a, quantity=Decimal(2)).quantity == 2


def test_the_minimum_interval_is_enforced(clock, authorised, resident_a, remedy, carer_a):
    clock("10:00")
    give(resident_a, remedy, carer_a)
    clock("13:59")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a)
    assert e.value.code == "homely_interval" and "14:00" in e.value.message
    clock("14:00")
    give(resident_a, remedy, carer_a)


def test_a_dose_recorded_after_the_fact_respects_the_interval_both_ways(
    clock, authorised, resident_a, remedy, carer_a, home_a
):
    clock("12:00")
    give(resident_a, remedy, carer_a)
    clock("15:00")
    earlier = dt.datetime.combine(DAY, dt.time(10, 0), tzinfo=home_a.tz)
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a, administered_at=earlier)
    assert e.value.code == "homely_interval"


def test_the_rolling_24_hour_maximum_is_enforced(
    clock, resident_a, senior_a, carer_a, qualified, home_a
):
    remedy = remedy_for(home_a, min_interval_minutes=60, max_doses_24h=2, max_days=3)
    authorise(resident_a, remedy, senior_a)
    clock("20:00", DAY - dt.timedelta(days=1))
    give(resident_a, remedy, carer_a)
    clock("08:00")
    give(resident_a, remedy, carer_a)
    clock("19:59")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a)
    assert e.value.code == "homely_max_24h"
    clock("20:01")
    give(resident_a, remedy, carer_a)


def test_more_than_max_days_in_a_row_is_refused_until_the_gp_is_asked(
    clock, authorised, resident_a, remedy, carer_a
):
    """max_days=2: given on Monday and Tuesday, refused on Wednesday; a day without it ends
    the course."""
    for day in (DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1)):
        clock("09:00", day)
        give(resident_a, remedy, carer_a)
        clock("15:00", day)
        give(resident_a, remedy, carer_a)  # a second dose the same day is the same course day
    clock("09:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a)
    assert e.value.code == "homely_max_days" and "contact the GP" in e.value.message
    clock("09:00", DAY + dt.timedelta(days=1))
    give(resident_a, remedy, carer_a)  # Wednesday without: a new course may start


# --- duplicate ingredient and allergy: a second, authenticated senior -----------------------------


def test_a_prescribed_duplicate_ingredient_needs_a_second_senior_not_a_tick(
    clock, authorised, paracetamol, resident_a, remedy, carer_a, senior_a
):
    clock("14:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a)
    assert e.value.code == "duplicate_ingredient"
    assert "Paracetamol 500mg tablets" in e.value.message
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a, override_by=senior_a)
    assert e.value.code == "override_reason_required"
    dose = give(
        resident_a, remedy, carer_a, override_by=senior_a, override_reason="GP advised by phone"
    )
    assert dose.override_by == senior_a and dose.duplicate_warning


def test_the_giver_cannot_override_their_own_warning(
    clock, authorised, paracetamol, resident_a, remedy, senior_a
):
    clock("14:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, senior_a, override_by=senior_a, override_reason="Checked")
    assert e.value.code == "second_senior_same_person"


def test_a_carer_cannot_override(
    clock, authorised, paracetamol, resident_a, remedy, carer_a, manager_a
):
    from tests.factories import staff

    other_carer = staff(resident_a.home, "carer", username="carer_c")
    clock("14:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, remedy, carer_a, override_by=other_carer, override_reason="Checked")
    assert e.value.code == "second_senior_not_senior"


def test_an_allergy_match_needs_a_second_senior(
    clock, qualified, resident_a, home_a, senior_a, senior2_a, carer_a
):
    ibuprofen = remedy_for(home_a, "Ibuprofen 200mg tablets", dose_max=None)
    authorise(resident_a, ibuprofen, senior_a)
    resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="NSAIDs", reason="GP record"
    )
    resident_a.refresh_from_db()
    clock("14:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, ibuprofen, carer_a)
    assert e.value.code == "homely_allergy" and "NSAIDs" in e.value.message
    dose = give(
        resident_a,
        ibuprofen,
        carer_a,
        override_by=senior2_a,
        override_reason="GP confirmed the reaction was indigestion, not an allergy",
    )
    assert dose.allergy_warning


def test_an_allergy_added_later_flags_the_authorisation_and_tells_the_seniors_once(
    client, clock, qualified, resident_a, home_a, senior_a, senior2_a
):
    """R-RX-11: adding an allergy re-checks every homely-remedy authorisation too."""
    from emar.models import Notification

    ibuprofen = remedy_for(home_a, "Ibuprofen 200mg tablets", dose_max=None)
    authorisation = authorise(resident_a, ibuprofen, senior_a)
    subject = f"homely_authorisation:{authorisation.pk}"
    resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="NSAIDs", reason="GP record"
    )
    told = Notification.objects.filter(kind="allergy_match", subject=subject)
    assert told.count() >= 1 and "Ibuprofen" in told.first().title
    first_count = told.count()
    resident_services.allergy_add(
        resident=resident_a, by=senior_a, substance="Latex", reason="GP record"
    )
    assert told.count() == first_count  # the same match is not told twice
    client.force_login(senior2_a)
    page = client.get(reverse("medications:homely_remedy", args=[resident_a.pk])).content.decode()
    assert "Allergy match: NSAIDs" in page


def test_the_database_refuses_a_self_override(clock, authorised, resident_a, remedy, carer_a):
    from django.db import IntegrityError, transaction

    clock("14:00")
    dose = give(resident_a, remedy, carer_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        HomelyRemedyDose.objects.filter(pk=dose.pk).update(
            override_by=carer_a, override_reason="self"
        )


def test_an_incomplete_list_entry_is_not_given(
    clock, qualified, resident_a, home_a, senior_a, carer_a
):
    legacy = HomelyRemedy.objects.create(
        home=home_a,
        medicine=Medicine.objects.get(name="Senna 7.5mg tablets"),
        dose_guidance="1 to 2 at night",
    )
    authorise(resident_a, legacy, senior_a)
    clock("14:00")
    with pytest.raises(DoseError) as e:
        give(resident_a, legacy, carer_a)
    assert e.value.code == "homely_list_incomplete"


# --- MAR chart and audit ------------------------------------------------------------------------


def test_homely_remedy_doses_have_their_own_row_on_the_mar_chart(
    clock, authorised, paracetamol, resident_a, remedy, carer_a, senior_a
):
    clock("14:00")
    give(resident_a, remedy, carer_a, override_by=senior_a, override_reason="GP advised")
    chart = mar_chart(resident=resident_a, start=DAY - dt.timedelta(days=3), days=7)
    (row,) = chart.homely_rows
    assert row.remedy == remedy
    (entry,) = next(c for c in row.cells if c.day == DAY).entries
    assert entry.time == "14:00" and entry.quantity == "1" and " O:" in entry.mark


def test_the_monthly_audit_counts_homely_remedies_and_overrides(
    clock, authorised, paracetamol, resident_a, remedy, carer_a, senior_a, home_a
):
    from audits.metrics import compute

    clock("10:00")
    give(resident_a, remedy, carer_a, override_by=senior_a, override_reason="GP advised")
    clock("15:00")
    give(resident_a, remedy, carer_a, override_by=senior_a, override_reason="GP advised")
    metrics = compute(home_a, dt.date(2026, 11, 1))
    assert metrics["homely"] == {"doses": 2, "overrides": 2, "residents": 1}


# --- pages ---------------------------------------------------------------------------------------


def test_the_page_asks_for_a_second_senior_and_checks_their_password(
    client, clock, authorised, paracetamol, resident_a, remedy, carer_a, senior_a
):
    senior_a.set_password("senior-pass-1")
    senior_a.save()
    clock("14:00")
    client.force_login(carer_a)
    url = reverse("medications:homely_remedy", args=[resident_a.pk])
    page = client.get(url).content.decode()
    assert "allergy-banner" in page and "Dr A Shah" in page and "Exclusions" in page
    data = {
        "idempotency_key": str(uuid.uuid4()),
        "remedy": remedy.pk,
        "quantity": "1",
        "reason": "Headache",
    }
    warned = client.post(url, data)
    assert warned.status_code == 422 and "same ingredient" in warned.content.decode()
    wrong = client.post(
        url,
        {
            **data,
            "second_username": "senior_a",
            "second_password": "nope",
            "override_reason": "x",
        },
    )
    assert wrong.status_code == 400
    assert "Wrong password for the second senior. 2 tries left" in wrong.content.decode()
    assert not HomelyRemedyDose.objects.exists()
    ok = client.post(
        url,
        {
            **data,
            "second_username": "senior_a",
            "second_password": "senior-pass-1",
            "override_reason": "GP advised by phone",
        },
    )
    assert ok.status_code == 302
    assert HomelyRemedyDose.objects.get().override_by == senior_a


def test_a_senior_records_an_authorisation_on_the_resident_page(
    client, clock, qualified, resident_a, remedy, senior_a, carer_a
):
    url = reverse("medications:homely_authorisations", args=[resident_a.pk])
    data = {
        "remedy": remedy.pk,
        "authorised_by_name": "Dr A Shah",
        "authorised_by_role": "gp",
        "authorised_on": (DAY - dt.timedelta(days=4)).isoformat(),
        "review_date": (DAY + dt.timedelta(days=60)).isoformat(),
        "exclusions": "Not with a temperature over 38",
    }
    client.force_login(carer_a)
    assert client.get(url).status_code == 200
    assert client.post(url, data).status_code == 403
    client.force_login(senior_a)
    assert client.post(url, {**data, "exclusions": ""}).status_code == 400
    assert client.post(url, data).status_code == 302
    assert resident_a.homely_remedy_authorisations.get().exclusions.startswith("Not with")
    profile = client.get(
        reverse("medications:resident_profile", args=[resident_a.pk])
    ).content.decode()
    assert url in profile


def test_authorisation_pages_are_scoped(client, clock, authorised, resident_a, carer_b):
    client.force_login(carer_b)
    assert (
        client.get(reverse("medications:homely_authorisations", args=[resident_a.pk])).status_code
        == 404
    )
    withdraw = reverse("medications:homely_authorisation_withdraw", args=[authorised.pk])
    assert client.post(withdraw, {"reason": "x"}).status_code == 404
    client.logout()
    response = client.get(reverse("medications:homely_authorisations", args=[resident_a.pk]))
    assert response.status_code == 302 and "login" in response.url
