"""factory_boy factories for training. Courses come from the data migration (looked up by
code); `qualify` gives a person everything they need to pass the dose gate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import factory
from django.utils import timezone

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

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
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
