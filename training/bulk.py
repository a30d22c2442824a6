"""Training and competency in bulk, for generated data (the benchmarks in bench/ and
`manage.py bench_generate`): each person in date for the safe-handling course and competent in
every medicine category, as the training gate (R-MAR-13) requires before recording a dose."""

from __future__ import annotations

import datetime as dt

from emar.models import CareHome, User

from .models import CompetencyAssessment, Course, MedicineCategory, TrainingRecord


def staff_qualified_bulk(
    *, home: CareHome, people: list[User], by: User, done: dt.date, now: dt.datetime
) -> None:
    """Write the records with bulk inserts (no audit trail: generated data, never a real home)."""
    course = Course.objects.get(code=Course.SAFE_HANDLING)
    expires = done + dt.timedelta(days=365)
    TrainingRecord.objects.bulk_create(
        TrainingRecord(
            home=home,
            person=p,
            course=course,
            completed_on=done,
            expires_on=expires,
            recorded_by=by,
            recorded_at=now,
        )
        for p in people
    )
    CompetencyAssessment.objects.bulk_create(
        CompetencyAssessment(
            home=home,
            person=p,
            category=cat,
            assessor=by,
            assessed_on=done,
            outcome="competent",
            expires_on=expires,
            recorded_at=now,
        )
        for p in people
        for cat in MedicineCategory.values
    )
