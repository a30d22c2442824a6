"""Recording training, assessments and the medicines policy (R-TRN-1, R-TRN-2, R-TRN-5)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from emar.models import AuditEvent
from tests.training.factories import JPEG, PDF, PNG, course, pdf_bytes
from training import services
from training.models import (
    CompetencyAssessment,
    Course,
    MedicinesPolicy,
    Outcome,
    PolicyConfirmation,
    TrainingRecord,
    add_months,
)
from training.uploads import MAX_UPLOAD_BYTES


def record(person, home, by, **kwargs) -> TrainingRecord:
    kwargs.setdefault("course", course())
    kwargs.setdefault("completed_on", home.local_today() - dt.timedelta(days=10))
    return services.training_record_create(person=person, home=home, by=by, **kwargs)


def error_code(call, **kwargs) -> str:
    with pytest.raises(services.TrainingError) as info:
        call(**kwargs)
    return info.value.code


def test_default_courses_are_shipped(db):
    codes = set(Course.objects.values_list("code", flat=True))
    assert {
        "safe_handling",
        "controlled_drugs",
        "prn",
        "covert",
        "insulin",
        "eye_ear_drops",
        "inhalers",
        "peg",
        "data_security",
    } <= codes
    assert Course.objects.get(code="data_security").mandatory


def test_expiry_is_completion_plus_the_course_validity(carer_a, senior_a, home_a):
    r = record(carer_a, home_a, senior_a, completed_on=dt.date(2026, 1, 31))
    assert r.expires_on == dt.date(2027, 1, 31)
    r = record(carer_a, home_a, senior_a, course=course("prn"), completed_on=dt.date(2026, 1, 31))
    assert r.expires_on == dt.date(2028, 1, 31)


def test_a_leap_day_rolls_back_to_the_end_of_february():
    assert add_months(dt.date(2028, 2, 29), 12) == dt.date(2029, 2, 28)
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 3, 15), -12) == dt.date(2025, 3, 15)


def test_recording_training_writes_the_audit_trail(carer_a, senior_a, home_a):
    r = record(carer_a, home_a, senior_a, provider="Boots")
    event = AuditEvent.objects.get(home=home_a, action="training.recorded")
    assert event.actor == senior_a
    assert event.object_id == str(r.pk)
    assert event.after["course"] == "safe_handling"


def test_nobody_records_their_own_training_or_competency(senior_a, home_a):
    assert error_code(record, person=senior_a, home=home_a, by=senior_a) == "not_for_yourself"
    assert (
        error_code(
            services.competency_assess,
            person=senior_a,
            home=home_a,
            by=senior_a,
            category="oral",
            assessed_on=home_a.local_today(),
            outcome=Outcome.COMPETENT,
        )
        == "not_for_yourself"
    )
    assert not CompetencyAssessment.objects.exists()


def test_carers_and_inspectors_cannot_record(carer_a, senior_a, inspector_a, home_a):
    assert error_code(record, person=senior_a, home=home_a, by=carer_a) == "not_allowed"
    assert error_code(record, person=senior_a, home=home_a, by=inspector_a) == "not_allowed"


def test_provider_admin_can_assess(carer_a, admin_a, home_a):
    a = services.competency_assess(
        person=carer_a,
        home=home_a,
        by=admin_a,
        category="oral",
        assessed_on=home_a.local_today(),
        outcome=Outcome.COMPETENT,
    )
    assert a.assessor == admin_a


def test_only_staff_of_the_home_can_be_recorded(carer_b, inspector_a, senior_a, home_a):
    assert error_code(record, person=carer_b, home=home_a, by=senior_a) == "not_staff"
    assert error_code(record, person=inspector_a, home=home_a, by=senior_a) == "not_staff"


def test_dates_in_the_future_are_refused(carer_a, senior_a, home_a):
    tomorrow = home_a.local_today() + dt.timedelta(days=1)
    assert (
        error_code(record, person=carer_a, home=home_a, by=senior_a, completed_on=tomorrow)
        == "date_in_future"
    )
    assert (
        error_code(
            services.competency_assess,
            person=carer_a,
            home=home_a,
            by=senior_a,
            category="oral",
            assessed_on=tomorrow,
            outcome=Outcome.COMPETENT,
        )
        == "date_in_future"
    )


def test_inactive_course_is_refused(carer_a, senior_a, home_a):
    c = course("peg")
    c.active = False
    c.save()
    assert error_code(record, person=carer_a, home=home_a, by=senior_a, course=c) == (
        "course_inactive"
    )


def test_assessment_expires_after_12_months_and_is_audited(carer_a, senior_a, home_a):
    a = services.competency_assess(
        person=carer_a,
        home=home_a,
        by=senior_a,
        category="injection",
        assessed_on=dt.date(2026, 3, 4),
        outcome=Outcome.COMPETENT,
        notes="Observed twice",
    )
    assert a.expires_on == dt.date(2027, 3, 4)
    assert a.assessor == senior_a
    assert AuditEvent.objects.filter(home=home_a, action="competency.assessed").count() == 1


def test_not_yet_competent_needs_notes(carer_a, senior_a, home_a):
    code = error_code(
        services.competency_assess,
        person=carer_a,
        home=home_a,
        by=senior_a,
        category="oral",
        assessed_on=home_a.local_today(),
        outcome=Outcome.NOT_YET_COMPETENT,
    )
    assert code == "notes_required"


def test_bad_outcome_is_refused(carer_a, senior_a, home_a):
    code = error_code(
        services.competency_assess,
        person=carer_a,
        home=home_a,
        by=senior_a,
        category="oral",
        assessed_on=home_a.local_today(),
        outcome="brilliant",
    )
    assert code == "bad_outcome"


# --- Certificates (R-SEC-5) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("cert.pdf", PDF, "application/pdf"),
        ("cert.PNG", PNG, "image/png"),
        ("cert.jpeg", JPEG, "image/jpeg"),
        ("cert.jpg", JPEG, "image/jpeg"),
    ],
)
def test_certificate_is_stored_privately_under_an_unguessable_name(
    carer_a, senior_a, home_a, name, content, content_type
):
    r = record(
        carer_a, home_a, senior_a, certificate=SimpleUploadedFile(name, content, "text/plain")
    )
    assert r.certificate_type == content_type
    assert r.certificate_name == name
    assert re.fullmatch(r"training/certificates/[0-9a-f]{32}\.(pdf|png|jpe?g)", r.certificate.name)
    stored = settings.MEDIA_ROOT / r.certificate.name
    assert stored.read_bytes() == content


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("cert.pdf", b"MZ\x90\x00 this is an exe", "upload_type"),  # lies about its type
        ("cert.pdf", PNG, "upload_type"),  # a PNG named .pdf
        ("cert.exe", PDF, "upload_type"),
        ("cert.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "upload_type"),
        ("cert.pdf", b"", "upload_empty"),
        ("cert.pdf", PDF + b"0" * MAX_UPLOAD_BYTES, "upload_too_large"),
    ],
)
def test_bad_certificates_are_refused(carer_a, senior_a, home_a, name, content, code):
    upload = SimpleUploadedFile(name, content, "application/pdf")
    assert error_code(record, person=carer_a, home=home_a, by=senior_a, certificate=upload) == code
    assert not TrainingRecord.objects.exists()


def _pdf_with(catalog_extra: bytes) -> bytes:
    """A small hand-written PDF whose catalogue carries `catalog_extra`, with a valid xref."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.mark.parametrize(
    "content",
    [
        pdf_bytes(javascript="app.alert('hello')"),
        _pdf_with(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>"),
        _pdf_with(b"/OpenAction << /S /Launch /F (calc.exe) >>"),
        _pdf_with(b"/AA << /O << /S /URI /URI (http://example.com) >> >>"),
        _pdf_with(b"/Names << /EmbeddedFiles << /Names [] >> >>"),
        _pdf_with(b"/AcroForm << /Fields [] /XFA [] >>"),
        _pdf_with(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>"),  # escaped names
    ],
    ids=["add_js", "openaction-js", "launch", "aa", "embedded", "xfa", "escaped"],
)
def test_a_pdf_with_active_content_is_refused(carer_a, senior_a, home_a, content):
    upload = SimpleUploadedFile("cert.pdf", content, "application/pdf")
    code = error_code(record, person=carer_a, home=home_a, by=senior_a, certificate=upload)
    assert code == "upload_active_content"
    assert not TrainingRecord.objects.exists()


def test_a_plain_hand_written_pdf_is_accepted(carer_a, senior_a, home_a):
    upload = SimpleUploadedFile("cert.pdf", _pdf_with(b""), "application/pdf")
    assert record(carer_a, home_a, senior_a, certificate=upload).certificate_type == (
        "application/pdf"
    )


def test_a_policy_pdf_with_javascript_is_refused(manager_a, home_a):
    document = SimpleUploadedFile("policy.pdf", pdf_bytes(javascript="app.alert(1)"))
    assert error_code(publish, home=home_a, by=manager_a, document=document) == (
        "upload_active_content"
    )


# --- Medicines policy (R-TRN-5) -----------------------------------------------------------------


def publish(home, by, version="1.0", **kwargs) -> MedicinesPolicy:
    kwargs.setdefault("review_on", add_months(home.local_today(), 12))
    kwargs.setdefault("document", SimpleUploadedFile("policy.pdf", PDF))
    return services.policy_publish(home=home, by=by, version=version, **kwargs)


def test_staff_confirm_the_current_policy_once(carer_a, manager_a, home_a):
    policy = publish(home_a, manager_a)
    first = services.policy_confirm(policy=policy, person=carer_a)
    again = services.policy_confirm(policy=policy, person=carer_a)
    assert first.pk == again.pk
    assert PolicyConfirmation.objects.count() == 1
    assert AuditEvent.objects.filter(home=home_a, action="policy.confirmed").count() == 1


def test_an_old_version_cannot_be_confirmed(carer_a, manager_a, home_a):
    old = publish(home_a, manager_a, "1.0")
    publish(home_a, manager_a, "2.0")
    code = error_code(services.policy_confirm, policy=old, person=carer_a)
    assert code == "policy_not_current"


def test_policy_rules(carer_a, senior_a, manager_a, inspector_a, home_a):
    assert error_code(publish, home=home_a, by=senior_a) == "not_allowed"
    publish(home_a, manager_a, "1.0")
    assert error_code(publish, home=home_a, by=manager_a, version="1.0") == "version_exists"
    assert (
        error_code(publish, home=home_a, by=manager_a, version="2", review_on=home_a.local_today())
        == "review_in_past"
    )
    png = SimpleUploadedFile("policy.pdf", PNG)
    assert error_code(publish, home=home_a, by=manager_a, version="3", document=png) == (
        "upload_type"
    )
    policy = MedicinesPolicy.objects.get()
    assert error_code(services.policy_confirm, policy=policy, person=inspector_a) == "not_staff"
