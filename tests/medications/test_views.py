"""Pages of prescriptions, the resident list and profile: scoping, 403 for roles, 400 on bad
input, rules shown as form errors (R-SEC-1, R-REL-1)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from medications.models import LineStatus, Medicine, PrescriptionLine
from tests.medications.factories import line
from tests.residents.factories import resident


def _line_data(home, **over):
    data = {
        "medicine": Medicine.objects.get(name="Paracetamol 500mg tablets").pk,
        "dose": "1",
        "dose_max": "",
        "dose_unit": "tablet",
        "route": "oral",
        "days": "daily",
        "times": "08:00, 20:00",
        "dose_rule": "fixed",
        "start_date": home.local_today().isoformat(),
        "prescriber": "Dr Shah",
        "source": "gp",
        "tolerance_minutes": "15",
        "every_n": "1",
        "month_day": "1",
        "cycle_on": "0",
        "cycle_off": "0",
    }
    data.update(over)
    return data


def test_anonymous_is_sent_to_login(client, home_a, resident_a):
    for url in (
        reverse("medications:resident_list", args=[home_a.pk]),
        reverse("medications:resident_profile", args=[resident_a.pk]),
        reverse("medications:line_new", args=[resident_a.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_outsider_gets_404(client, carer_b, home_a, resident_a, senior_a, senior2_a):
    live = line(resident_a, senior_a, checker=senior2_a)
    client.force_login(carer_b)
    for url in (
        reverse("medications:resident_list", args=[home_a.pk]),
        reverse("medications:resident_profile", args=[resident_a.pk]),
        reverse("medications:line_detail", args=[live.pk]),
        reverse("medications:line_stop", args=[live.pk]),
    ):
        assert client.get(url).status_code == 404
    response = client.post(
        reverse("medications:line_stop", args=[live.pk]), {"reason": "x", "authorised_by": "y"}
    )
    assert response.status_code == 404
    live.refresh_from_db()
    assert live.status == LineStatus.ACTIVE


def test_the_resident_list_shows_allergies_in_words_and_flags(
    client, carer_a, home_a, unit_a, senior_a
):
    resident(unit_a, senior_a, full_name="Ada Price", allergies=("Penicillin",))
    resident(unit_a, senior_a, full_name="Bert Cole", allergy_status="unknown")
    client.force_login(carer_a)
    page = client.get(reverse("medications:resident_list", args=[home_a.pk]), {"unit": unit_a.pk})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Allergies: Penicillin" in text and "Allergy status unknown" in text


def test_the_resident_list_query_count_does_not_grow(
    client, carer_a, home_a, unit_a, senior_a, senior2_a, django_assert_max_num_queries
):
    client.force_login(carer_a)

    def add(n):
        for _ in range(n):
            person = resident(unit_a, senior_a, allergies=("Latex",))
            line(person, senior_a, checker=senior2_a)

    add(2)
    url = reverse("medications:resident_list", args=[home_a.pk])
    with django_assert_max_num_queries(20):
        assert client.get(url).status_code == 200
    add(10)
    with django_assert_max_num_queries(20):
        assert client.get(url).status_code == 200


def test_a_carer_reads_the_profile_but_cannot_prescribe(client, carer_a, resident_a):
    client.force_login(carer_a)
    assert (
        client.get(reverse("medications:resident_profile", args=[resident_a.pk])).status_code == 200
    )
    assert client.get(reverse("medications:line_new", args=[resident_a.pk])).status_code == 403


def test_a_senior_enters_a_line_and_another_checks_it(
    client, senior_a, senior2_a, home_a, resident_a
):
    client.force_login(senior_a)
    assert (
        client.get(
            reverse("medications:line_new", args=[resident_a.pk]), {"q": "parac"}
        ).status_code
        == 200
    )
    response = client.post(
        reverse("medications:line_new", args=[resident_a.pk]), _line_data(home_a)
    )
    assert response.status_code == 302
    entered = PrescriptionLine.objects.get()
    assert entered.status == LineStatus.AWAITING_CHECK
    check = reverse("medications:line_check", args=[entered.pk])
    own = client.post(check, {"confirm": "on"})
    assert own.status_code == 400 and "cannot check" in own.content.decode()
    client.force_login(senior2_a)
    assert client.get(check).status_code == 200
    assert client.post(check, {"confirm": "on"}).status_code == 302
    entered.refresh_from_db()
    assert entered.status == LineStatus.ACTIVE


def test_an_allergy_match_is_a_400_asking_for_an_override(client, senior_a, home_a, unit_a):
    person = resident(unit_a, senior_a, allergies=("Paracetamol",))
    client.force_login(senior_a)
    response = client.post(reverse("medications:line_new", args=[person.pk]), _line_data(home_a))
    assert response.status_code == 400
    assert "Allergy warning" in response.content.decode()
    assert not PrescriptionLine.objects.exists()
    response = client.post(
        reverse("medications:line_new", args=[person.pk]),
        _line_data(
            home_a, allergy_override_reason="Prescriber confirmed: intolerance, not allergy"
        ),
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "bad",
    [
        {"dose": "lots"},
        {"times": "8 o'clock"},
        {"days": "weekdays"},
        {"medicine": "999999"},
        {"start_date": "2026-02-30"},
        {"dose": "2", "dose_max": "1"},
        {"taper": "banana", "dose_rule": "tapering"},
    ],
)
def test_bad_line_input_is_a_400_and_writes_nothing(client, senior_a, home_a, resident_a, bad):
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:line_new", args=[resident_a.pk]), _line_data(home_a, **bad)
    )
    assert response.status_code == 400
    assert not PrescriptionLine.objects.exists()


def test_a_prn_line_gets_its_protocol(client, senior_a, senior2_a, home_a, resident_a):
    prn = line(resident_a, senior_a, checker=senior2_a, prn=True)
    client.force_login(senior_a)
    url = reverse("medications:prn_protocol", args=[prn.pk])
    assert client.post(url, {"indication": "Pain"}).status_code == 400
    response = client.post(
        url,
        {
            "indication": "Pain",
            "dose_guidance": "1 tablet",
            "min_interval_minutes": "240",
            "max_doses_24h": "4",
            "signs": "Grimacing",
            "can_ask": "yes",
            "alternatives": "Reposition",
            "contact_prescriber": "Not controlled in 48h",
            "review_date": (home_a.local_today() + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 302
    assert prn.protocols.count() == 1


def test_stop_covert_and_self_admin_pages(client, senior_a, senior2_a, home_a, resident_a):
    live = line(resident_a, senior_a, checker=senior2_a)
    client.force_login(senior_a)
    later = (home_a.local_today() + dt.timedelta(days=60)).isoformat()
    today = home_a.local_today().isoformat()
    for name in (
        "line_detail",
        "covert_plan",
        "self_admin",
        "line_stop",
        "schedule_change",
        "variable_doses",
    ):
        assert client.get(reverse(f"medications:{name}", args=[live.pk])).status_code == 200, name
    assert (
        client.post(
            reverse("medications:self_admin", args=[live.pk]),
            {
                "has_capacity": "on",
                "self_administers": "on",
                "review_date": later,
            },
        ).status_code
        == 400
    )
    assert (
        client.post(
            reverse("medications:covert_plan", args=[live.pk]),
            {
                "capacity_assessment": "Lacks capacity",
                "capacity_assessed_on": today,
                "best_interests_decision": "Covert",
                "best_interests_participants": "GP, son",
                "decided_on": today,
                "pharmacist_advice": "In yoghurt",
                "pharmacist": "A Patel",
                "review_date": later,
            },
        ).status_code
        == 302
    )
    assert (
        client.post(
            reverse("medications:line_stop", args=[live.pk]),
            {"reason": "Finished", "authorised_by": "Dr Shah"},
        ).status_code
        == 302
    )
    live.refresh_from_db()
    assert live.status == LineStatus.STOPPED


def test_a_schedule_change_is_checked_by_another_senior(client, senior_a, senior2_a, resident_a):
    live = line(resident_a, senior_a, checker=senior2_a)
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:schedule_change", args=[live.pk]),
        {"days": "daily", "times": "09:00", "dose_rule": "fixed"},
    )
    assert response.status_code == 302
    version = live.versions.get(checked_at__isnull=True)
    assert client.post(reverse("medications:schedule_check", args=[version.pk])).status_code == 400
    client.force_login(senior2_a)
    assert client.post(reverse("medications:schedule_check", args=[version.pk])).status_code == 302
    version.refresh_from_db()
    assert version.effective_from is not None


def test_awaiting_check_page(client, senior_a, senior2_a, carer_a, home_a, resident_a):
    line(resident_a, senior_a)
    client.force_login(senior2_a)
    page = client.get(reverse("medications:awaiting_check", args=[home_a.pk]))
    assert page.status_code == 200 and "Paracetamol" in page.content.decode()
    client.force_login(carer_a)
    assert client.get(reverse("medications:awaiting_check", args=[home_a.pk])).status_code == 403
