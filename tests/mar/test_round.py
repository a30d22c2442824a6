"""The round screen and recording over HTTP (R-MAR-1, R-MAR-5, R-MAR-9, H-1, H-10)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from medications.models import Administration
from residents.models import Resident
from tests.factories import TEST_PASSWORD
from tests.mar.conftest import DAY, at_local, code, dose_at, prn_protocol
from tests.medications.factories import line, times
from tests.residents.factories import resident


def round_url(home, unit, **params):
    query = "&".join(f"{k}={v}" for k, v in {"unit": unit.pk, **params}.items())
    return f"{reverse('medications:round', args=[home.pk])}?{query}"


def post_dose(client, dose, htmx=True, **data):
    data.setdefault("idempotency_key", str(uuid.uuid4()))
    data.setdefault("outcome", "given")
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("medications:dose_record", args=[dose.pk]), data, **headers)


def test_round_shows_who_and_what_in_room_order(
    client, clock, qualified, home_a, unit_a, resident_a, senior_a, senior2_a, carer_a
):
    resident_a.medicine_preferences = "One at a time with orange juice"
    resident_a.save()
    other = resident(unit_a, senior_a, full_name="Arthur Bell", room="3")
    line(resident_a, senior_a, checker=senior2_a, schedule=times("08:00"))
    line(other, senior_a, checker=senior2_a, schedule=times("08:00"))
    clock("08:05")
    client.force_login(carer_a)
    page = client.get(round_url(home_a, unit_a)).content.decode()
    assert page.index("Arthur Bell") < page.index("Edith Clarke")  # room 3 before room 12
    assert "born 1 Jan 1940" in page and "No known allergies" in page
    assert "One at a time with orange juice" in page
    assert "Paracetamol 500mg tablets" in page and "Due now" in page
    assert reverse("resident_photo", args=[resident_a.pk]) in page


def test_round_orders_any_room_label_naturally(
    client, clock, qualified, home_a, unit_a, senior_a, senior2_a, carer_a
):
    rooms = ["B10", "Room 3", "10", "A2", "2", "A1", "1", "", "b2"]
    for room in rooms:
        person = resident(
            unit_a, senior_a, full_name=f"Person in {room or 'no room'}", room=room or "0"
        )
        Resident.objects.filter(pk=person.pk).update(room=room)  # e.g. imported without one
        line(person, senior_a, checker=senior2_a, schedule=times("08:00"))
    clock("08:05")
    client.force_login(carer_a)
    response = client.get(round_url(home_a, unit_a))
    assert response.status_code == 200
    page = response.content.decode()
    shown = sorted(rooms, key=lambda r: page.index(f"Person in {r or 'no room'}"))
    assert shown == ["", "1", "2", "10", "A1", "A2", "b2", "B10", "Room 3"]


def test_recording_a_dose_swaps_the_row(client, clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    response = post_dose(client, dose)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="dose-{dose.pk}"' in html and "Given" in html and str(carer_a) in html
    assert "<html" not in html  # a row, not a page


def test_recording_without_javascript_returns_to_the_round(
    client, clock, qualified, paracetamol, carer_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    response = post_dose(client, dose, htmx=False)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("medications:round", args=[dose.home_id]))


def test_a_double_tap_records_once(client, clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    same = str(uuid.uuid4())
    assert post_dose(client, dose, idempotency_key=same).status_code == 200
    assert post_dose(client, dose, idempotency_key=same).status_code == 200
    assert Administration.objects.count() == 1


def test_second_carer_is_told_who_recorded_it(
    client, clock, qualified, paracetamol, carer_a, senior_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    post_dose(client, dose)
    client.force_login(senior_a)
    response = post_dose(client, dose, outcome="not_given", code=code(dose.home, "R").pk)
    assert response.status_code == 409
    assert "Already recorded by" in response.content.decode()


def test_another_person_sending_the_same_key_is_told_who_recorded_it(
    client, clock, qualified, paracetamol, carer_a, senior_a
):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    same = str(uuid.uuid4())
    client.force_login(carer_a)
    assert post_dose(client, dose, idempotency_key=same).status_code == 200
    assert post_dose(client, dose, idempotency_key=same).status_code == 200  # own retry
    client.force_login(senior_a)
    response = post_dose(client, dose, idempotency_key=same)
    assert response.status_code == 409
    html = response.content.decode()
    assert f"Already recorded by {carer_a} at 08:05" in html
    assert Administration.objects.get().recorded_by == carer_a


def test_a_prn_field_the_page_does_not_show_still_reports_its_error(
    client, clock, qualified, make_line, senior_a
):
    oral = make_line(prn=True)
    prn_protocol(oral, senior_a)
    clock("10:00")
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:prn_give", args=[oral.pk]),
        {
            "idempotency_key": str(uuid.uuid4()),
            "prn_reason": "Pain",
            "quantity": "1",
            "body_site": "On the moon",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Not saved" in html and "Where it was applied: Select a valid choice" in html
    assert not Administration.objects.exists()


def test_a_refused_rule_says_not_saved_and_why(client, clock, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)  # no training: gated (R-MAR-13)
    response = post_dose(client, dose)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Not saved" in html and "safe handling of medicines" in html
    assert not Administration.objects.exists()


def test_bad_input_is_a_400_not_a_500(client, clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    for data in (
        {"idempotency_key": "not-a-uuid"},
        {"outcome": "maybe"},
        {"quantity": "lots"},
        {"outcome": "not_given", "code": "999999"},
    ):
        assert post_dose(client, dose, **data).status_code == 400
    assert not Administration.objects.exists()


def test_cd_witness_confirms_with_their_own_password(
    client, clock, qualified, make_line, carer_a, senior_a
):
    cd = make_line("Oxycodone 10mg capsules", dose_unit="capsule")
    dose = dose_at(cd, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    wrong = post_dose(client, dose, witness_username="senior_a", witness_password="nope")
    assert wrong.status_code == 400
    assert "Wrong password for the witness. 2 tries left on this tablet." in wrong.content.decode()
    missing = post_dose(client, dose)
    assert missing.status_code == 422 and "witness" in missing.content.decode()
    ok = post_dose(client, dose, witness_username="senior_a", witness_password=TEST_PASSWORD)
    assert ok.status_code == 200
    assert Administration.objects.get().witness == senior_a


def test_a_late_entry_asks_why(client, clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("10:00")
    client.force_login(carer_a)
    page = client.get(reverse("medications:dose", args=[dose.pk])).content.decode()
    assert "Missed — overdue" in page and "Late entry: why?" in page
    response = post_dose(
        client, dose, late_reason="Resident was at the dentist", given_time="09:40"
    )
    assert response.status_code == 200
    record = Administration.objects.get()
    assert record.late and record.administered_at == at_local(dose.home, DAY, "09:40")


def test_prn_from_the_round(client, clock, qualified, make_line, carer_a, senior_a):
    from decimal import Decimal

    prn = make_line(prn=True, dose=Decimal(1), dose_max=Decimal(2))
    prn_protocol(prn, senior_a)
    clock("14:00")
    client.force_login(carer_a)
    page = client.get(reverse("medications:prn_give", args=[prn.pk])).content.decode()
    assert "Minimum gap" in page
    key = str(uuid.uuid4())
    response = client.post(
        reverse("medications:prn_give", args=[prn.pk]),
        {"idempotency_key": key, "prn_reason": "Knee pain", "quantity": "2"},
    )
    assert response.status_code == 302
    too_soon = client.post(
        reverse("medications:prn_give", args=[prn.pk]),
        {"idempotency_key": str(uuid.uuid4()), "prn_reason": "Still sore", "quantity": "1"},
    )
    assert too_soon.status_code == 422 and "Too soon" in too_soon.content.decode()
    record = Administration.objects.get()
    clock("15:30")
    client.force_login(carer_a)  # 90 minutes later the idle tablet had signed her out
    follow = client.post(
        reverse("medications:prn_follow_up", args=[record.pk]), {"effectiveness": "effective"}
    )
    assert follow.status_code == 302
    from medications.models import PrnFollowUp

    assert PrnFollowUp.objects.get(administration=record).effectiveness == "effective"


def test_correction_page(client, clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    post_dose(client, dose, outcome="not_given", code=code(dose.home, "R").pk)
    original = Administration.objects.get()
    response = client.post(
        reverse("medications:correct", args=[original.pk]),
        {
            "idempotency_key": str(uuid.uuid4()),
            "outcome": "given",
            "quantity": "1",
            "reason": "Wrong button: she took it",
        },
    )
    assert response.status_code == 302
    assert Administration.objects.filter(corrects=original).count() == 1


def test_outsider_gets_404(client, clock, qualified, paracetamol, carer_b):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    client.force_login(carer_b)
    assert post_dose(client, dose).status_code == 404
    assert client.get(reverse("medications:dose", args=[dose.pk])).status_code == 404
    assert client.get(reverse("medications:prn_give", args=[paracetamol.pk])).status_code == 404


def test_anonymous_is_sent_to_login(client, clock, paracetamol, home_a):
    dose = dose_at(paracetamol, "08:00")
    response = post_dose(client, dose, htmx=False)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_round_bad_query_is_400(client, carer_a, home_a, unit_a, unit_b):
    client.force_login(carer_a)
    for bad in ("unit=abc", f"unit={unit_b.pk}", "date=2026-13-01", "round=999999"):
        assert (
            client.get(f"{reverse('medications:round', args=[home_a.pk])}?{bad}").status_code == 400
        )


def _unit_with(n, unit, senior, checker, history_days: int):
    for i in range(n):
        person = resident(unit, senior, room=str(100 + i))
        line(person, senior, checker=checker, schedule=times("08:00", "20:00"))
        line(
            person, senior, checker=checker, schedule=times("08:00"), name="Ibuprofen 200mg tablets"
        )


@pytest.mark.parametrize("size", [5, 40])
def test_round_query_count_does_not_grow(
    size,
    client,
    clock,
    qualified,
    home_a,
    unit_a,
    senior_a,
    senior2_a,
    carer_a,
    django_assert_max_num_queries,
):
    clock("10:00", DAY - dt.timedelta(days=14))
    _unit_with(size, unit_a, senior_a, senior2_a, history_days=14)
    # Two weeks of history: every dose recorded.
    from medications import services
    from medications.models import ScheduledDose

    clock("06:00")
    services.doses_sync(home=home_a, start=DAY - dt.timedelta(days=13), end=DAY)
    past = ScheduledDose.objects.filter(local_date__lt=DAY)
    Administration.objects.bulk_create(
        Administration(
            home=home_a,
            resident_id=d.resident_id,
            line_id=d.line_id,
            dose=d,
            outcome="given",
            quantity=1,
            administered_at=d.due_at,
            recorded_at=d.due_at,
            recorded_by=carer_a,
            idempotency_key=uuid.uuid4(),
        )
        for d in past
    )
    clock("08:05")
    client.force_login(carer_a)
    client.get(round_url(home_a, unit_a))  # warm: session, doses synced
    with django_assert_max_num_queries(32) as queries:
        response = client.get(round_url(home_a, unit_a))
    assert response.status_code == 200
    assert response.content.decode().count('class="dose-row') == size * 2
    test_round_query_count_does_not_grow.counts[size] = len(queries)
    if len(test_round_query_count_does_not_grow.counts) == 2:
        assert len(set(test_round_query_count_does_not_grow.counts.values())) == 1


test_round_query_count_does_not_grow.counts = {}


def test_prn_is_offered_from_the_resident_page(
    client, clock, make_line, senior_a, carer_a, inspector_a, resident_a
):
    prn = make_line(prn=True)
    prn_protocol(prn, senior_a)
    client.force_login(carer_a)
    page = client.get(
        reverse("medications:resident_profile", args=[resident_a.pk])
    ).content.decode()
    assert reverse("medications:prn_give", args=[prn.pk]) in page
    client.force_login(inspector_a)
    page = client.get(
        reverse("medications:resident_profile", args=[resident_a.pk])
    ).content.decode()
    assert reverse("medications:prn_give", args=[prn.pk]) not in page
