"""Training pages: who sees what (404 outsider, 403 insider without the permission, login
for anonymous), forms that turn bad input into 400s, and private file downloads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.training import url_params
from tests.training.factories import PDF, PNG, TrainingRecordFactory, course, qualify
from training.models import (
    CompetencyAssessment,
    CompetencySuspension,
    MedicinesPolicy,
    PolicyConfirmation,
    TrainingRecord,
    add_months,
)

# name -> (method, kwargs that need objects)
URLS = {
    "training_matrix": ("get", ("home_id",)),
    "training_matrix_csv": ("get", ("home_id",)),
    "training_mine": ("get", ("home_id",)),
    "training_staff": ("get", ("home_id", "staff_id")),
    "training_record_add": ("post", ("home_id", "staff_id")),
    "training_assess": ("post", ("home_id", "staff_id")),
    "training_suspend": ("post", ("home_id", "staff_id")),
    "training_certificate": ("get", ("record_id",)),
    "training_policy": ("get", ("home_id",)),
    "training_policy_publish": ("post", ("home_id",)),
    "training_policy_document": ("get", ("policy_id",)),
    "training_policy_confirm": ("post", ("policy_id",)),
}


@pytest.fixture
def params(home_a, unit_a, persona):
    values = url_params.build(home=home_a, unit=unit_a, users=persona)
    return {"home_id": home_a.pk, **values}


def url_for(name, params) -> str:
    return reverse(name, kwargs={k: params[k] for k in URLS[name][1]})


@pytest.mark.parametrize("name", URLS)
def test_anonymous_is_sent_to_login(client, params, name):
    response = getattr(client, URLS[name][0])(url_for(name, params))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", URLS)
def test_outsider_gets_404(client, params, carer_b, name):
    client.force_login(carer_b)
    response = getattr(client, URLS[name][0])(url_for(name, params))
    assert response.status_code == 404


EXPECTED = {
    # name: roles allowed (others among carer, senior, manager, inspector, admin get 403)
    "training_matrix": {"senior", "manager", "inspector", "admin"},
    "training_matrix_csv": {"senior", "manager", "inspector", "admin"},
    "training_mine": {"carer", "senior", "manager", "admin"},
    "training_staff": {"senior", "manager", "inspector", "admin"},
    "training_record_add": {"senior", "manager", "admin"},
    "training_assess": {"senior", "manager", "admin"},
    "training_suspend": {"senior", "manager", "admin"},
    "training_certificate": {"senior", "manager", "inspector", "admin"},
    "training_policy": {"senior", "manager", "inspector", "admin"},
    "training_policy_publish": {"manager", "admin"},
    "training_policy_document": {"carer", "senior", "manager", "inspector", "admin"},
    "training_policy_confirm": {"carer", "senior", "manager", "admin"},
}


@pytest.mark.parametrize("role", ["carer", "senior", "manager", "inspector", "admin"])
@pytest.mark.parametrize("name", URLS)
def test_roles(client, params, persona, name, role):
    client.force_login(persona[role])
    response = getattr(client, URLS[name][0])(url_for(name, params))
    if role in EXPECTED[name]:
        assert response.status_code not in (403, 404, 500), response.status_code
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("name", [n for n, (method, _) in URLS.items() if method == "post"])
def test_state_changes_are_post_only(client, params, manager_a, name):
    client.force_login(manager_a)
    assert client.get(url_for(name, params)).status_code == 405


def test_post_needs_csrf(params, senior_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(senior_a)
    response = client.post(url_for("training_assess", params), {"category": "oral"})
    assert response.status_code == 403
    assert not CompetencyAssessment.objects.exists()


def test_staff_of_another_home_is_404(client, home_a, senior_a, carer_b):
    client.force_login(senior_a)
    url = reverse("training_staff", args=[home_a.pk, carer_b.pk])
    assert client.get(url).status_code == 404


# --- Journeys ---------------------------------------------------------------------------------


def test_senior_records_training_with_a_certificate(client, home_a, senior_a, carer_a):
    client.force_login(senior_a)
    response = client.post(
        reverse("training_record_add", args=[home_a.pk, carer_a.pk]),
        {
            "course": course().pk,
            "completed_on": home_a.local_today().isoformat(),
            "provider": "Local pharmacy",
            "certificate": SimpleUploadedFile("my cert.pdf", PDF, "application/pdf"),
        },
    )
    assert response.status_code == 302
    r = TrainingRecord.objects.get(person=carer_a)
    assert r.recorded_by == senior_a and r.certificate_type == "application/pdf"
    page = client.get(response.url)
    assert "In date" in page.content.decode()


def test_a_fake_certificate_is_a_400_with_a_form_error(client, home_a, senior_a, carer_a):
    client.force_login(senior_a)
    response = client.post(
        reverse("training_record_add", args=[home_a.pk, carer_a.pk]),
        {
            "course": course().pk,
            "completed_on": home_a.local_today().isoformat(),
            "certificate": SimpleUploadedFile("cert.pdf", b"<script>", "application/pdf"),
        },
    )
    assert response.status_code == 400
    assert "Only" in response.content.decode()
    assert not TrainingRecord.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"course": "999999", "completed_on": "2026-01-01"},
        {"course": "abc", "completed_on": "yesterday"},
        {"completed_on": "2026-02-30"},
    ],
)
def test_bad_training_input_is_a_400(client, home_a, senior_a, carer_a, data):
    client.force_login(senior_a)
    response = client.post(reverse("training_record_add", args=[home_a.pk, carer_a.pk]), data)
    assert response.status_code == 400


def test_a_senior_cannot_assess_themselves(client, home_a, senior_a):
    client.force_login(senior_a)
    response = client.post(
        reverse("training_assess", args=[home_a.pk, senior_a.pk]),
        {
            "category": "oral",
            "assessed_on": home_a.local_today().isoformat(),
            "outcome": "competent",
        },
    )
    assert response.status_code == 400
    assert "your own" in response.content.decode()
    assert not CompetencyAssessment.objects.exists()


def test_assess_and_suspend_journey(client, home_a, senior_a, manager_a, carer_a):
    qualify(carer_a, home_a, [])
    client.force_login(manager_a)
    response = client.post(
        reverse("training_suspend", args=[home_a.pk, carer_a.pk]),
        {"categories": ["oral", "prn"], "reason": "Gave a dose twice", "incident_ref": "INC-3"},
    )
    assert response.status_code == 302
    assert CompetencySuspension.objects.filter(person=carer_a, lifted_at=None).count() == 2
    client.force_login(senior_a)
    response = client.post(
        reverse("training_assess", args=[home_a.pk, carer_a.pk]),
        {
            "category": "oral",
            "assessed_on": home_a.local_today().isoformat(),
            "outcome": "competent",
            "notes": "",
        },
    )
    assert response.status_code == 302
    assert CompetencySuspension.objects.filter(person=carer_a, lifted_at=None).count() == 1


def test_bad_suspension_is_a_400(client, home_a, manager_a, carer_a):
    client.force_login(manager_a)
    response = client.post(
        reverse("training_suspend", args=[home_a.pk, carer_a.pk]),
        {"categories": ["lollipops"], "reason": ""},
    )
    assert response.status_code == 400
    assert not CompetencySuspension.objects.exists()


def test_my_training_says_why_i_am_gated(client, home_a, carer_a, senior_a):
    TrainingRecordFactory(
        home=home_a, person=carer_a, completed_on=home_a.local_today() - dt.timedelta(days=400)
    )
    client.force_login(carer_a)
    response = client.get(reverse("training_mine", args=[home_a.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Safe handling of medicines training expired" in text
    assert str(senior_a) in text


# --- Private files (R-SEC-5) --------------------------------------------------------------------


@pytest.fixture
def carer_certificate(home_a, carer_a, senior_a):
    return TrainingRecordFactory(
        home=home_a,
        person=carer_a,
        recorded_by=senior_a,
        certificate=SimpleUploadedFile("c.png", PNG),
        certificate_type="image/png",
        certificate_name="c.png",
    )


def test_a_carer_opens_their_own_certificate(client, carer_a, carer_certificate):
    client.force_login(carer_a)
    response = client.get(reverse("training_certificate", args=[carer_certificate.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == PNG


def test_a_carer_cannot_open_a_colleagues_certificate(client, home_a, carer_certificate):
    from emar.models import Role
    from tests.factories import staff

    client.force_login(staff(home_a, Role.CARER))
    response = client.get(reverse("training_certificate", args=[carer_certificate.pk]))
    assert response.status_code == 403


def test_no_certificate_is_404(client, home_a, carer_a, senior_a):
    r = TrainingRecordFactory(home=home_a, person=carer_a)
    client.force_login(senior_a)
    assert client.get(reverse("training_certificate", args=[r.pk])).status_code == 404


def test_certificates_have_no_public_url(carer_certificate, settings):
    assert carer_certificate.certificate.url.startswith(settings.MEDIA_URL)
    assert Client().get(carer_certificate.certificate.url).status_code != 200


# --- Policy ---------------------------------------------------------------------------------------


def test_manager_publishes_and_carer_confirms(client, home_a, manager_a, carer_a):
    client.force_login(manager_a)
    response = client.post(
        reverse("training_policy_publish", args=[home_a.pk]),
        {
            "title": "Medicines policy",
            "version": "2.1",
            "review_on": add_months(home_a.local_today(), 12).isoformat(),
            "document": SimpleUploadedFile("policy.pdf", PDF, "application/pdf"),
        },
    )
    assert response.status_code == 302
    policy = MedicinesPolicy.objects.get(version="2.1")
    page = client.get(reverse("training_policy", args=[home_a.pk])).content.decode()
    assert str(carer_a) in page  # not yet confirmed

    client.force_login(carer_a)
    response = client.post(reverse("training_policy_confirm", args=[policy.pk]))
    assert response.status_code == 302
    assert PolicyConfirmation.objects.filter(policy=policy, person=carer_a).exists()
    document = client.get(reverse("training_policy_document", args=[policy.pk]))
    assert document["Content-Type"] == "application/pdf"


def test_bad_policy_upload_is_a_400(client, home_a, manager_a):
    client.force_login(manager_a)
    response = client.post(
        reverse("training_policy_publish", args=[home_a.pk]),
        {
            "title": "Medicines policy",
            "version": "1",
            "review_on": "2020-01-01",
            "document": SimpleUploadedFile("policy.pdf", PNG),
        },
    )
    assert response.status_code == 400
    assert not MedicinesPolicy.objects.exists()


def test_confirming_an_old_version_is_a_400(client, home_a, manager_a, carer_a):
    old, _new = (
        MedicinesPolicy.objects.create(
            home=home_a,
            version=v,
            review_on=add_months(home_a.local_today(), 6),
            document=SimpleUploadedFile("p.pdf", PDF),
            published_by=manager_a,
            published_at=at,
        )
        for v, at in (
            ("1", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
            ("2", dt.datetime(2026, 2, 1, tzinfo=dt.UTC)),
        )
    )
    client.force_login(carer_a)
    response = client.post(reverse("training_policy_confirm", args=[old.pk]))
    assert response.status_code == 400
    assert "not the current version" in response.content.decode()
