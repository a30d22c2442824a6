"""Demo training data (R-RUN-4): every demo member of staff in date, except `carer2` whose
medication training and oral competency have expired (so the round screen gates them); a
couple of records expiring within 30 days; a current medicines policy most staff have read.

Idempotent: a record is only made when the person has none for that course or category.
"""

from __future__ import annotations

import datetime as dt
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from pypdf import PdfWriter

from emar.models import CareHome, User
from training import selectors, services
from training.models import (
    CompetencyAssessment,
    Course,
    MedicineCategory,
    MedicinesPolicy,
    Outcome,
    TrainingRecord,
    add_months,
)

from .organisation import DemoContext

POLICY_VERSION = "1.0"


def _demo_pdf() -> bytes:
    """A real one-page PDF standing in for the home's policy document (uploads are parsed)."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


DEMO_PDF = _demo_pdf()

# username -> days before today a course/assessment was done (default: 120 days ago)
EXPIRING_SOON = {
    ("carer3", Course.DATA_SECURITY): 350,  # a 12-month course: expires in about 15 days
    ("senior2", MedicineCategory.INHALER.value): 345,  # expires in about 20 days
}
GATED = "carer2"


def _completed(today: dt.date, username: str, key: str, months: int) -> dt.date:
    """When `username` did `key` (a course code or a category) so that it is in date — or, for
    carer2's medication training and oral competency, expired 10 days ago."""
    if username == GATED and key in (Course.SAFE_HANDLING, MedicineCategory.ORAL.value):
        return add_months(today, -months) - dt.timedelta(days=10)
    return today - dt.timedelta(days=EXPIRING_SOON.get((username, key), 120))


def _seed_person(
    home: CareHome, person: User, assessor: User, today: dt.date, courses: list[Course]
) -> None:
    have_courses = set(
        TrainingRecord.objects.filter(home=home, person=person).values_list("course_id", flat=True)
    )
    for course in courses:
        if course.pk in have_courses:
            continue
        services.training_record_create(
            person=person,
            home=home,
            course=course,
            completed_on=_completed(today, person.username, course.code, course.validity_months),
            provider="Demo Training Ltd",
            by=assessor,
        )
    have_categories = set(
        CompetencyAssessment.objects.filter(home=home, person=person).values_list(
            "category", flat=True
        )
    )
    for category in MedicineCategory:
        if category.value in have_categories:
            continue
        services.competency_assess(
            person=person,
            home=home,
            category=category,
            by=assessor,
            assessed_on=_completed(today, person.username, category.value, 12),
            outcome=Outcome.COMPETENT,
            notes="Observed on a morning round (demo).",
        )


def _seed_policy(home: CareHome, manager: User, readers: list[User], today: dt.date) -> None:
    policy = MedicinesPolicy.objects.filter(home=home, version=POLICY_VERSION).first()
    if policy is None:
        policy = services.policy_publish(
            home=home,
            version=POLICY_VERSION,
            title="Medicines policy",
            review_on=add_months(today, 11),
            document=SimpleUploadedFile("medicines-policy.pdf", DEMO_PDF, "application/pdf"),
            by=manager,
        )
    current = selectors.current_policy(home)
    if current is not None and current.pk == policy.pk:
        for person in readers:
            services.policy_confirm(policy=policy, person=person)


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    u = ctx.users
    courses = list(Course.objects.filter(active=True))
    home, riverside = ctx.home, ctx.riverside
    today = home.local_today()
    # Assessors are never the person themselves (R-TRN-2).
    for username, assessor in (
        ("manager", "senior"),
        ("senior", "manager"),
        ("senior2", "manager"),
        ("carer", "senior"),
        ("carer2", "senior"),
        ("carer3", "senior2"),
    ):
        _seed_person(home, u[username], u[assessor], today, courses)
    _seed_person(riverside, u["carer_riverside"], u["manager_riverside"], today, courses)
    _seed_person(riverside, u["manager_riverside"], u["admin"], today, courses)

    # Everyone but carer3 has read the policy, so the matrix shows someone who has not.
    _seed_policy(
        home,
        u["manager"],
        [u[n] for n in ("manager", "senior", "senior2", "carer", "carer2")],
        today,
    )
    _seed_policy(
        riverside, u["manager_riverside"], [u["manager_riverside"], u["carer_riverside"]], today
    )
