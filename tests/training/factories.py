"""factory_boy factories for training. Courses come from the data migration (looked up by
code); `qualify` gives a person everything they need to pass the dose gate."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable

import factory
from django.utils import timezone
from pypdf import PdfWriter
from pypdf.actions import JavaScript

from emar.models import CareHome, User
from tests.factories import UserFactory
from training.models import (
    COMPETENCY_VALIDITY_MONTHS,
    CompetencyAssessment,
    Course,
    MedicineCategory,
    Outcome,
    TrainingRecord,
    add_months,
)


def pdf_bytes(javascript: str | None = None) -> bytes:
    """A real one-page PDF (uploads are parsed: R-SEC-5), with a script when asked."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    if javascript is not None:
        writer.add_open_action(JavaScript(javascript))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = pdf_bytes()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40


def course(code: str = Course.SAFE_HANDLING) -> Course:
    return Course.objects.get(code=code)


class TrainingRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingRecord

    person = factory.SubFactory(UserFactory)
    course = factory.LazyFunction(course)
    completed_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    expires_on = factory.LazyAttribute(lambda r: r.course.expiry_for(r.completed_on))
    provider = "Test Training Ltd"
    recorded_by = factory.SubFactory(UserFactory)
    recorded_at = factory.LazyFunction(timezone.now)


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompetencyAssessment

    person = factory.SubFactory(UserFactory)
    category = MedicineCategory.ORAL
    assessor = factory.SubFactory(UserFactory)
    assessed_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    outcome = Outcome.COMPETENT
    expires_on = factory.LazyAttribute(
        lambda a: add_months(a.assessed_on, COMPETENCY_VALIDITY_MONTHS)
    )
    recorded_at = factory.LazyFunction(timezone.now)


def qualify(
    person: User,
    home: CareHome,
    categories: Iterable[str] = tuple(MedicineCategory),
    *,
    on: dt.date | None = None,
) -> None:
    """In-date medication training and competent assessments for `categories`, done `on`."""
    on = on or timezone.localdate() - dt.timedelta(days=30)
    TrainingRecordFactory(home=home, person=person, completed_on=on)
    for category in categories:
        AssessmentFactory(home=home, person=person, category=category, assessed_on=on)
