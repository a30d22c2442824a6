"""R-REL-1, R-SEC-3: malformed input gets a message and a 4xx, never a 500 or a half-written
record; read-only pages refuse writes; pages with personal data are never cached."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import uuid

import pytest
from django import forms as django_forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse

from audits.models import Incident
from audits.selectors import questions_for
from audits.services import audit_prepare
from emar.forms import InputBounds
from medications.models import Medicine, PrescriptionLine, StockMovement
from residents.models import Resident
from residents.services import resident_update
from tests.factories import TEST_PASSWORD
from tests.mar.conftest import prn_protocol
from tests.medications.factories import line, times
from tests.residents.factories import resident, valid_nhs_number
from tests.residents.test_record import png_bytes
from tests.training.factories import qualify
from training.models import TrainingRecord

FORM_MODULES = (
    "emar.forms",
    "residents.forms",
    "medications.forms.prescriptions",
    "medications.forms.rounds",
    "medications.forms.stock",
    "audits.forms",
    "training.forms",
)


@pytest.fixture
def person(unit_a, senior_a):
    return resident(unit_a, senior_a, full_name="Edith Clarke", room="12")


def _admit(unit, **over):
    data = {
        "full_name": "Iris Webb",
        "date_of_birth": "1938-05-02",
        "nhs_number": valid_nhs_number(),
        "unit": unit.pk,
        "room": "7",
        "admitted_on": "2026-02-01",
        "allergy_status": "none_known",
    }
    return {**data, **over}


def _line(**over):
    data = {
        "medicine": Medicine.objects.get(name="Paracetamol 500mg tablets").pk,
        "dose": "1",
        "dose_unit": "tablet",
        "route": "oral",
        "days": "cycle",
        "times": "08:00",
        "dose_rule": "fixed",
        "start_date": dt.date.today().isoformat(),  # noqa: DTZ011 - the form's own day
        "prescriber": "Dr Shah",
        "source": "gp",
        "tolerance_minutes": "15",
        "every_n": "1",
        "month_day": "1",
        "cycle_on": "21",
        "cycle_off": "7",
    }
    return {**data, **over}


def test_every_form_of_the_product_has_the_input_bounds():
    missing = [
        f"{name}.{cls.__name__}"
        for name in FORM_MODULES
        for cls in vars(importlib.import_module(name)).values()
        if inspect.isclass(cls)
        and issubclass(cls, django_forms.BaseForm)
        and cls.__module__ == name
        and not issubclass(cls, InputBounds)
    ]
    assert missing == []


def test_a_nul_byte_in_the_query_string_is_a_400(client, senior_a, home_a, person):
    client.force_login(senior_a)
    for url in (
        reverse("medications:line_new", args=[person.pk]) + "?q=para%00cetamol",
        reverse("medications:resident_list", args=[home_a.pk]) + "?unit=%00",
        reverse("medications:round", args=[home_a.pk]) + "?date=2026-01-01%00",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "not allowed" in response.content.decode()


@pytest.mark.parametrize("field", ["cycle_on", "cycle_off"])
def test_a_forty_digit_cycle_is_refused_with_a_message(client, senior_a, person, field):
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:line_new", args=[person.pk]), _line(**{field: "9" * 40})
    )
    assert response.status_code == 400
    assert "less than or equal to 366" in response.content.decode()
    assert not PrescriptionLine.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0001-01-01", "before 1 Jan 1900"),
        ("9999-12-31", "cannot be in the future"),
        ((dt.date.today() + dt.timedelta(days=1)).isoformat(), "cannot be in the future"),  # noqa: DTZ011
    ],
)
def test_an_absurd_date_of_birth_is_refused(client, senior_a, home_a, unit_a, value, message):
    client.force_login(senior_a)
    response = client.post(
        reverse("resident_admit", args=[home_a.pk]), _admit(unit_a, date_of_birth=value)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Resident.objects.exists()


def test_year_one_admission_and_prescription_dates_are_refused(
    client, senior_a, home_a, unit_a, person
):
    client.force_login(senior_a)
    response = client.post(
        reverse("resident_admit", args=[home_a.pk]), _admit(unit_a, admitted_on="0001-01-01")
    )
    assert response.status_code == 400 and "before 1 Jan 1900" in response.content.decode()
    for field in ("start_date", "end_date", "review_date"):
        for value in ("0001-01-01", "9999-12-31"):
            response = client.post(
                reverse("medications:line_new", args=[person.pk]), _line(**{field: value})
            )
            assert response.status_code == 400, (field, value)
            assert "Check the year" in response.content.decode()
    assert Resident.objects.count() == 1 and not PrescriptionLine.objects.exists()


def test_an_incident_in_year_one_or_the_future_is_refused(client, manager_a, home_a):
    client.force_login(manager_a)
    for when in ("0001-01-01T10:00", "9999-12-31T10:00"):
        response = client.post(
            reverse("incident_new", args=[home_a.pk]),
            {
                "kind": "near_miss",
                "stage": "storage",
                "type": "storage",
                "harm": "none",
                "occurred_at": when,
                "description": "Fridge left open",
                "immediate_action": "Closed",
            },
        )
        assert response.status_code == 400, when
    assert not Incident.objects.exists()


def test_a_training_date_in_year_9999_is_refused(client, manager_a, carer_a, home_a):
    client.force_login(manager_a)
    response = client.post(
        reverse("training_record_add", args=[home_a.pk, carer_a.pk]),
        {"course": 1, "completed_on": "9999-12-31"},
    )
    assert response.status_code == 400
    assert not TrainingRecord.objects.filter(person=carer_a).exists()


def test_a_megabyte_of_preferences_is_refused_by_the_form(client, senior_a, home_a, unit_a):
    client.force_login(senior_a)
    response = client.post(
        reverse("resident_admit", args=[home_a.pk]),
        _admit(unit_a, medicine_preferences="x" * 1_000_000),
    )
    assert response.status_code == 400
    assert "at most 2000 characters" in response.content.decode()
    assert not Resident.objects.exists()


@pytest.mark.parametrize(
    "field", ["swallowing_needs", "communication_needs", "medicine_preferences"]
)
def test_the_database_refuses_a_megabyte_of_needs(person, field):
    with pytest.raises(IntegrityError), transaction.atomic():
        Resident.objects.filter(pk=person.pk).update(**{field: "x" * 1_000_000})


def test_a_very_long_witness_username_is_a_form_error(client, senior_a, home_a, person, senior2_a):
    qualify(senior_a, home_a)
    live = line(person, senior_a, checker=senior2_a, schedule=times("08:00"))
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:stock_receive", args=[live.pk]),
        {"quantity": "28", "witness_username": "w" * 300, "witness_password": "x"},
    )
    assert response.status_code == 400
    assert not StockMovement.objects.filter(line=live).exists()


def test_a_very_long_prn_override_username_is_a_form_error(client, senior_a, person, senior2_a):
    qualify(senior_a, person.home)
    prn = line(person, senior_a, checker=senior2_a, prn=True)
    prn_protocol(prn, senior_a)
    client.force_login(senior_a)
    response = client.post(
        reverse("medications:prn_give", args=[prn.pk]),
        {
            "idempotency_key": str(uuid.uuid4()),
            "prn_reason": "Pain",
            "quantity": "1",
            "second_username": "o" * 300,
            "second_password": "x",
            "override_reason": "GP said so",
        },
    )
    assert response.status_code == 400


def test_a_very_long_username_at_sign_in_is_a_form_error(client, db):
    response = client.post(reverse("login"), {"username": "u" * 300, "password": "x"})
    assert response.status_code == 200
    assert "at most 150 characters" in response.content.decode()
    response = client.post(reverse("pin_switch"), {"username": "u" * 300, "pin": "1234"})
    assert response.status_code == 400


def test_a_nul_byte_in_a_checklist_comment_is_a_message(client, manager_a, home_a):
    audit = audit_prepare(home=home_a, month=dt.date(2026, 1, 1), by=manager_a)
    question = questions_for(audit)[0]
    client.force_login(manager_a)
    response = client.post(
        reverse("audit_checklist", args=[audit.pk]),
        {f"q{question.pk}": "yes", f"c{question.pk}": "fine\x00", "summary": "ok"},
    )
    assert response.status_code == 400
    assert "hidden character" in response.content.decode()


# --- R-SEC-3: read-only pages and caching ---------------------------------------------------------


def test_read_only_pages_refuse_writes_with_405(client, senior_a, home_a, person, senior2_a):
    live = line(person, senior_a, checker=senior2_a)
    client.force_login(senior_a)
    pages = [
        reverse("dashboard"),
        reverse("medications:round", args=[home_a.pk]),
        reverse("notifications"),
        reverse("medications:stock_overview", args=[home_a.pk]),
        reverse("medications:stock_line", args=[live.pk]),
        reverse("medications:cd_register_index", args=[home_a.pk]),
        reverse("medications:temperatures", args=[home_a.pk]),
        reverse("medications:resident_list", args=[home_a.pk]),
        reverse("medications:resident_profile", args=[person.pk]),
        reverse("medications:resident_mar", args=[person.pk]),
    ]
    for url in pages:
        assert client.post(url).status_code == 405, url
        assert client.put(url).status_code == 405, url
        assert client.delete(url).status_code == 405, url
        assert client.get(url).status_code == 200, url
    # Form pages take GET and POST only.
    assert client.put(reverse("resident_edit", args=[person.pk])).status_code == 405
    assert client.delete(reverse("medications:line_new", args=[person.pk])).status_code == 405


def test_pages_and_photos_with_personal_data_are_never_cached(client, senior_a, home_a, person):
    resident_update(resident=person, by=senior_a, photo=SimpleUploadedFile("me.png", png_bytes()))
    client.force_login(senior_a)
    for url in (
        reverse("medications:resident_profile", args=[person.pk]),
        reverse("resident_photo", args=[person.pk]),
        reverse("medications:round", args=[home_a.pk]),
        reverse("medications:resident_list", args=[home_a.pk]),
        reverse("medications:resident_mar", args=[person.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_sign_in_with_a_very_long_password_is_not_a_500(client, carer_a):
    response = client.post(
        reverse("login"), {"username": carer_a.username, "password": TEST_PASSWORD + "x" * 5000}
    )
    assert response.status_code == 200


def test_a_broken_one_submission_key_says_reload_in_plain_words(client, home_a, carer_a):
    client.force_login(carer_a)
    response = client.post(
        reverse("incident_new", args=[home_a.pk]),
        {"idempotency_key": "not-a-key", "kind": "near_miss"},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "This page is out of date: reload it and try again." in body
    assert "Idempotency key" not in body
