"""Pages of the resident record: scoping (outsider 404, role 403), 400 on bad input, photos
served only through the permission-checked view (R-SEC-1, R-SEC-5, R-REL-1)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from residents.models import Allergy, Resident, ResidentStatus
from tests.residents.factories import valid_nhs_number
from tests.residents.test_record import png_bytes


def _admit_data(unit, **over):
    data = {
        "full_name": "Iris Webb",
        "preferred_name": "Iris",
        "date_of_birth": "1938-05-02",
        "nhs_number": valid_nhs_number(),
        "unit": unit.pk,
        "room": "7",
        "admitted_on": "2026-02-01",
        "allergy_status": "none_known",
        "medicine_preferences": "With orange juice, one at a time",
    }
    data.update(over)
    return data


def test_anonymous_is_sent_to_login(client, resident_a, home_a):
    for url in (
        reverse("resident_edit", args=[resident_a.pk]),
        reverse("resident_photo", args=[resident_a.pk]),
        reverse("resident_admit", args=[home_a.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_outsider_gets_404(client, carer_b, resident_a, home_a):
    client.force_login(carer_b)
    assert client.get(reverse("resident_photo", args=[resident_a.pk])).status_code == 404
    assert client.get(reverse("resident_move", args=[resident_a.pk])).status_code == 404
    assert (
        client.post(
            reverse("resident_leave", args=[resident_a.pk]),
            {"status": "deceased", "on": "2026-02-02"},
        ).status_code
        == 404
    )
    assert client.get(reverse("resident_admit", args=[home_a.pk])).status_code == 404
    resident_a.refresh_from_db()
    assert resident_a.status == ResidentStatus.RESIDENT


def test_a_carer_cannot_admit_or_change_a_resident(client, carer_a, resident_a, home_a, unit_a):
    client.force_login(carer_a)
    assert client.get(reverse("resident_admit", args=[home_a.pk])).status_code == 403
    response = client.post(reverse("resident_admit", args=[home_a.pk]), _admit_data(unit_a))
    assert response.status_code == 403
    assert (
        client.post(
            reverse("resident_allergies", args=[resident_a.pk]), {"substance": "Latex"}
        ).status_code
        == 403
    )
    assert not Resident.objects.filter(full_name="Iris Webb").exists()


def test_a_senior_admits_a_resident(client, senior_a, home_a, unit_a):
    client.force_login(senior_a)
    assert client.get(reverse("resident_admit", args=[home_a.pk])).status_code == 200
    response = client.post(reverse("resident_admit", args=[home_a.pk]), _admit_data(unit_a))
    person = Resident.objects.get(full_name="Iris Webb")
    assert response.status_code == 302
    assert response["Location"] == reverse("medications:resident_profile", args=[person.pk])


def test_a_bad_nhs_number_is_a_400_with_a_clear_error(client, senior_a, home_a, unit_a):
    client.force_login(senior_a)
    response = client.post(
        reverse("resident_admit", args=[home_a.pk]), _admit_data(unit_a, nhs_number="9434765918")
    )
    assert response.status_code == 400
    assert "check digit" in response.content.decode()
    assert not Resident.objects.exists()


def test_an_nhs_number_in_full_width_digits_cannot_make_a_second_record(
    client, senior_a, home_a, unit_a
):
    client.force_login(senior_a)
    number = valid_nhs_number()
    url = reverse("resident_admit", args=[home_a.pk])
    assert client.post(url, _admit_data(unit_a, nhs_number=number)).status_code == 302
    wide = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    response = client.post(url, _admit_data(unit_a, nhs_number=wide, full_name="Iris Two"))
    assert response.status_code == 400
    assert "already has a record" in response.content.decode()
    assert Resident.objects.count() == 1


@pytest.mark.parametrize("junk", ["NaN", "🙂🙂🙂"])
def test_junk_nhs_number_gets_a_message(client, senior_a, home_a, unit_a, junk):
    client.force_login(senior_a)
    response = client.post(
        reverse("resident_admit", args=[home_a.pk]), _admit_data(unit_a, nhs_number=junk)
    )
    assert response.status_code == 400
    assert "not a valid NHS number" in response.content.decode()
    assert not Resident.objects.exists()


def test_garbage_input_is_a_400_not_a_500(client, senior_a, home_a, resident_a):
    client.force_login(senior_a)
    bad = {"date_of_birth": "31/02/1940", "weight_kg": "heavy", "unit": "999999", "room": ""}
    assert client.post(reverse("resident_admit", args=[home_a.pk]), bad).status_code == 400
    assert (
        client.post(reverse("resident_move", args=[resident_a.pk]), {"unit": "abc"}).status_code
        == 400
    )
    assert (
        client.post(
            reverse("resident_leave", args=[resident_a.pk]), {"status": "vanished", "on": "soon"}
        ).status_code
        == 400
    )


def test_a_photo_is_served_only_through_the_scoped_view(
    client, senior_a, carer_a, carer_b, inspector_a, home_a, unit_a
):
    client.force_login(senior_a)
    data = _admit_data(unit_a, photo=SimpleUploadedFile("iris.png", png_bytes()))
    assert client.post(reverse("resident_admit", args=[home_a.pk]), data).status_code == 302
    person = Resident.objects.get(full_name="Iris Webb")
    url = reverse("resident_photo", args=[person.pk])
    for reader in (carer_a, inspector_a):
        client.force_login(reader)
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content) == png_bytes()
    client.force_login(carer_b)
    assert client.get(url).status_code == 404


def test_a_fake_photo_upload_is_a_400(client, senior_a, home_a, unit_a):
    client.force_login(senior_a)
    fake = SimpleUploadedFile("x.jpg", b"GIF89a not really", content_type="image/jpeg")
    response = client.post(
        reverse("resident_admit", args=[home_a.pk]), _admit_data(unit_a, photo=fake)
    )
    assert response.status_code == 400
    assert "JPEG, PNG or WebP" in response.content.decode()
    assert not Resident.objects.exists()


def test_no_photo_shows_a_placeholder_with_initials(client, carer_a, resident_a):
    client.force_login(carer_a)
    response = client.get(reverse("resident_photo", args=[resident_a.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert b"EC" in response.content


def test_allergies_are_added_and_removed_with_a_reason(client, senior_a, resident_a):
    client.force_login(senior_a)
    url = reverse("resident_allergies", args=[resident_a.pk])
    assert client.get(url).status_code == 200
    fields = {"substance": "Penicillin", "reaction": "Rash", "severity": "moderate"}
    assert client.post(url, fields).status_code == 400  # where it comes from is required
    assert client.post(url, {**fields, "reason": "GP record"}).status_code == 302
    allergy = Allergy.objects.get(resident=resident_a)
    remove = reverse("allergy_remove", args=[allergy.pk])
    assert client.post(remove, {"reason": ""}).status_code == 400
    # The last allergy: the new status must be chosen explicitly (R-RES-2).
    response = client.post(remove, {"reason": "Wrong resident"})
    assert response.status_code == 400
    assert "choose the new status" in response.content.decode()
    allergy.refresh_from_db()
    assert allergy.removed_at is None
    response = client.post(remove, {"reason": "Wrong resident", "new_status": "none_known"})
    assert response.status_code == 302
    allergy.refresh_from_db()
    resident_a.refresh_from_db()
    assert allergy.removed_at is not None and resident_a.allergy_status == "none_known"


def test_the_allergy_page_asks_for_the_new_status_beside_the_last_allergy(
    client, senior_a, resident_a
):
    client.force_login(senior_a)
    url = reverse("resident_allergies", args=[resident_a.pk])
    client.post(url, {"substance": "Latex", "severity": "mild", "reason": "GP record"})
    text = client.get(url).content.decode()
    assert "This is the last allergy: the status becomes" in text
    assert 'name="new_status"' in text
    client.post(url, {"substance": "Penicillin", "severity": "mild", "reason": "GP record"})
    text = client.get(url).content.decode()
    assert 'name="new_status"' not in text  # two left: removing one keeps "has allergies"
    assert "Allergy status history" in text and "GP record" in text


def test_allergy_removal_is_post_only(client, senior_a, resident_a):
    client.force_login(senior_a)
    allergy_url = reverse("allergy_status", args=[resident_a.pk])
    assert client.get(allergy_url).status_code == 405


def test_a_domain_rule_shows_as_a_form_error(client, senior_a, resident_a):
    client.force_login(senior_a)
    status_url = reverse("allergy_status", args=[resident_a.pk])
    response = client.post(status_url, {"status": "unknown"})
    assert response.status_code == 400  # every status change needs a reason (R-RES-2)
    response = client.post(status_url, {"status": "unknown", "reason": "Family unsure"})
    assert response.status_code == 302  # none recorded, so unknown is allowed
    client.post(
        reverse("resident_allergies", args=[resident_a.pk]),
        {"substance": "Latex", "severity": "mild", "reason": "GP record"},
    )
    response = client.post(status_url, {"status": "none_known", "reason": "GP record"})
    assert response.status_code == 400
    assert "remove them first" in response.content.decode()


def test_discharge_keeps_the_profile_readable(client, senior_a, inspector_a, resident_a, home_a):
    client.force_login(senior_a)
    today = home_a.local_today().isoformat()
    response = client.post(
        reverse("resident_leave", args=[resident_a.pk]),
        {"status": "discharged", "on": today, "note": "Home with family"},
    )
    assert response.status_code == 302
    client.force_login(inspector_a)
    page = client.get(reverse("medications:resident_profile", args=[resident_a.pk]))
    assert page.status_code == 200 and "Discharged" in page.content.decode()


def test_reconciliation_pages(client, senior_a, carer_a, resident_a, home_a):
    client.force_login(senior_a)
    response = client.post(
        reverse("reconciliation_new", args=[resident_a.pk]),
        {
            "reason": "admission",
            "arrived_on": home_a.local_today().isoformat(),
            "sources": ["discharge_letter", "gp_record"],
        },
    )
    assert response.status_code == 302
    detail = response["Location"]
    assert (
        client.post(
            detail,
            {"description": "Omeprazole missing from letter", "resolution": "GP confirmed stop"},
        ).status_code
        == 302
    )
    rec_id = int(detail.rstrip("/").rsplit("/", 1)[1])
    done = client.post(reverse("reconciliation_complete", args=[rec_id]))
    assert done.status_code == 302
    client.force_login(carer_a)
    assert client.get(detail).status_code == 200
    assert client.post(detail, {"description": "x"}).status_code == 403
    report = client.get(reverse("reconciliation_report", args=[home_a.pk]))
    assert report.status_code == 200 and resident_a.full_name in report.content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "resident_edit",
        "resident_move",
        "resident_leave",
        "reconciliation_new",
        "review_new",
        "resident_allergies",
    ],
)
def test_forms_render_for_a_senior(client, senior_a, resident_a, name):
    client.force_login(senior_a)
    assert client.get(reverse(name, args=[resident_a.pk])).status_code == 200


def test_a_review_is_recorded(client, senior_a, resident_a, home_a):
    client.force_login(senior_a)
    response = client.post(
        reverse("review_new", args=[resident_a.pk]),
        {
            "held_on": (home_a.local_today() - dt.timedelta(days=1)).isoformat(),
            "participants": "GP, pharmacist",
            "outcome": "Reduce amlodipine",
        },
    )
    assert response.status_code == 302
    assert resident_a.reviews.count() == 1
