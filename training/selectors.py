"""Reads of training and competency: the matrix (R-TRN-4), one person's records, the policy.

The matrix is built from a fixed number of queries (staff, courses, latest training per
person and course, assessments, open suspensions, current policy, confirmations) whatever the
number of staff; cells are put together in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, QuerySet
from django.http import Http404

from emar import selectors as core_selectors
from emar.models import CareHome, Membership, Role, User

from .models import (
    DSPT_TARGET_PERCENT,
    CellStatus,
    CompetencyAssessment,
    CompetencySuspension,
    Course,
    MedicineCategory,
    MedicinesPolicy,
    PolicyConfirmation,
    TrainingRecord,
    expiry_status,
)

STAFF_ROLES = (Role.CARER, Role.SENIOR, Role.MANAGER)


def staff_memberships(home: CareHome) -> QuerySet[Membership]:
    """Current staff of the home (not inspectors), in name order."""
    return (
        core_selectors.staff_memberships_of(home, STAFF_ROLES)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    )


def staff_member(home: CareHome, staff_id: int) -> User:
    """A current member of staff of `home`, or 404 (the URL reveals nothing else)."""
    membership = staff_memberships(home).filter(user_id=staff_id).first()
    if membership is None:
        raise Http404("No such member of staff")
    return membership.user


def current_policy(home: CareHome) -> MedicinesPolicy | None:
    return (
        MedicinesPolicy.objects.filter(home=home)
        .select_related("published_by")
        .order_by("-published_at", "-pk")
        .first()
    )


def policies_of(home: CareHome) -> QuerySet[MedicinesPolicy]:
    return MedicinesPolicy.objects.filter(home=home).select_related("published_by")


@dataclass(frozen=True)
class Cell:
    status: CellStatus
    expires_on: dt.date | None = None

    @property
    def label(self) -> str:
        return self.status.label

    @property
    def css(self) -> str:
        return self.status.css


def competency_cell(latest: Mapping[str, Any] | None, suspended: bool, today: dt.date) -> Cell:
    """One competency cell from the latest assessment (as values) and any open suspension."""
    if suspended:
        return Cell(CellStatus.SUSPENDED, latest["expires_on"] if latest else None)
    if latest is None:
        return Cell(CellStatus.MISSING)
    if latest["outcome"] != "competent":
        return Cell(CellStatus.NOT_COMPETENT, latest["expires_on"])
    return Cell(expiry_status(latest["expires_on"], today), latest["expires_on"])


@dataclass
class Compliance:
    label: str
    compliant: int = 0
    total: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.compliant / self.total) if self.total else 0

    def add(self, cell: Cell) -> None:
        self.total += 1
        self.compliant += int(cell.status.compliant)


@dataclass
class MatrixRow:
    person: User
    role: str
    courses: list[Cell]
    competencies: list[Cell]
    policy_confirmed: bool | None


@dataclass
class Matrix:
    home: CareHome
    today: dt.date
    courses: list[Course]
    categories: list[MedicineCategory]
    rows: list[MatrixRow] = field(default_factory=list)
    course_compliance: list[Compliance] = field(default_factory=list)
    competency_compliance: list[Compliance] = field(default_factory=list)
    overall: Compliance = field(default_factory=lambda: Compliance("Mandatory training"))
    data_security: Compliance | None = None
    policy: MedicinesPolicy | None = None
    unconfirmed: list[User] = field(default_factory=list)

    dspt_target: int = DSPT_TARGET_PERCENT

    @property
    def dspt_met(self) -> bool:
        return self.data_security is not None and self.data_security.percent >= self.dspt_target


def training_matrix(home: CareHome, *, today: dt.date) -> Matrix:
    """Staff by courses and competency categories with compliance (R-TRN-4, R-TRN-5).

    Overall compliance is over the mandatory courses; data security is measured against the
    DSPT target of 95%. "Expiring within 30 days" counts as in date.
    """
    memberships = list(staff_memberships(home))
    people = [m.user_id for m in memberships]
    courses = list(Course.objects.filter(active=True))
    categories = list(MedicineCategory)
    matrix = Matrix(home=home, today=today, courses=courses, categories=categories)
    matrix.course_compliance = [Compliance(c.name) for c in courses]
    matrix.competency_compliance = [Compliance(c.label) for c in categories]

    training = {
        (r["person_id"], r["course_id"]): r["latest"]
        for r in TrainingRecord.objects.filter(home=home, person_id__in=people)
        .values("person_id", "course_id")
        .annotate(latest=Max("expires_on"))
        .order_by()
    }
    latest_assessment: dict[tuple[int, str], Mapping[str, Any]] = {}
    assessments = (
        CompetencyAssessment.objects.filter(home=home, person_id__in=people, assessed_on__lte=today)
        .order_by("assessed_on", "pk")
        .values("person_id", "category", "outcome", "expires_on")
    )
    for a in assessments:  # ascending, so the last one seen is the latest
        latest_assessment[(a["person_id"], a["category"])] = a
    suspended = set(
        CompetencySuspension.objects.filter(
            home=home, person_id__in=people, lifted_at__isnull=True
        ).values_list("person_id", "category")
    )
    matrix.policy = current_policy(home)
    confirmed: set[int] = set()
    if matrix.policy is not None:
        confirmed = set(
            PolicyConfirmation.objects.filter(policy=matrix.policy).values_list(
                "person_id", flat=True
            )
        )

    data_security = None
    for m in memberships:
        course_cells = [
            Cell(expiry_status(exp, today), exp)
            for exp in (training.get((m.user_id, c.pk)) for c in courses)
        ]
        competency_cells = [
            competency_cell(
                latest_assessment.get((m.user_id, cat.value)),
                (m.user_id, cat.value) in suspended,
                today,
            )
            for cat in categories
        ]
        for compliance, cell in zip(matrix.course_compliance, course_cells, strict=True):
            compliance.add(cell)
        for compliance, cell in zip(matrix.competency_compliance, competency_cells, strict=True):
            compliance.add(cell)
        for course, cell in zip(courses, course_cells, strict=True):
            if course.mandatory:
                matrix.overall.add(cell)
        policy_confirmed = None if matrix.policy is None else m.user_id in confirmed
        if policy_confirmed is False:
            matrix.unconfirmed.append(m.user)
        matrix.rows.append(
            MatrixRow(m.user, m.role, course_cells, competency_cells, policy_confirmed)
        )
    for course, compliance in zip(courses, matrix.course_compliance, strict=True):
        if course.code == Course.DATA_SECURITY:
            data_security = compliance
    matrix.data_security = data_security
    return matrix


@dataclass
class CourseLine:
    course: Course
    cell: Cell
    records: list[TrainingRecord]


@dataclass
class CompetencyLine:
    category: MedicineCategory
    cell: Cell
    assessments: list[CompetencyAssessment]
    suspensions: list[CompetencySuspension]


def person_training(home: CareHome, person: User, *, today: dt.date) -> dict:
    """One person's courses and competencies with their history (the "my training" page and
    the staff page)."""
    records = list(
        TrainingRecord.objects.filter(home=home, person=person)
        .select_related("course", "recorded_by")
        .order_by("-completed_on", "-pk")
    )
    assessments = list(
        CompetencyAssessment.objects.filter(home=home, person=person)
        .select_related("assessor")
        .order_by("-assessed_on", "-pk")
    )
    suspensions = list(
        CompetencySuspension.objects.filter(home=home, person=person)
        .select_related("suspended_by", "lifted_by")
        .order_by("-suspended_at")
    )
    courses = []
    for course in Course.objects.filter(active=True):
        mine = [r for r in records if r.course_id == course.pk]
        latest = max((r.expires_on for r in mine if r.completed_on <= today), default=None)
        courses.append(CourseLine(course, Cell(expiry_status(latest, today), latest), mine))
    competencies = []
    for category in MedicineCategory:
        held = [a for a in assessments if a.category == category]
        current = next((a for a in held if a.assessed_on <= today), None)
        stops = [s for s in suspensions if s.category == category]
        cell = competency_cell(
            {"outcome": current.outcome, "expires_on": current.expires_on} if current else None,
            any(s.is_open for s in stops),
            today,
        )
        competencies.append(CompetencyLine(category, cell, held, stops))
    return {"courses": courses, "competencies": competencies}


@dataclass(frozen=True)
class ExpiryItem:
    """One person's course or competency that has expired or expires within 30 days."""

    home_id: int
    person: User
    what: str
    cell: Cell


def expiring(homes: list[CareHome], *, today: dict[int, dt.date]) -> list[ExpiryItem]:
    """The cells of the homes' training matrices (R-TRN-4) that are "expiring within 30
    days" or "expired", as `training_matrix` would show them on each home's `today[home.pk]`.

    For the dashboards (R-DASH-1, R-DASH-2): five queries whatever the number of homes and
    staff. Suspended competencies are not expiry (they show on the matrix as suspended)."""
    home_ids = [h.pk for h in homes]
    if not home_ids:
        return []
    latest_day = max(today.values())
    memberships = list(
        Membership.objects.current()
        .filter(home_id__in=home_ids, role__in=STAFF_ROLES)
        .select_related("user")
    )
    people = {m.user_id for m in memberships}
    courses = list(Course.objects.filter(active=True))
    training = {
        (r["home_id"], r["person_id"], r["course_id"]): r["latest"]
        for r in TrainingRecord.objects.filter(home_id__in=home_ids, person_id__in=people)
        .values("home_id", "person_id", "course_id")
        .annotate(latest=Max("expires_on"))
        .order_by()
    }
    assessments: dict[tuple[int, int, str], list[Any]] = {}
    for a in (
        CompetencyAssessment.objects.filter(
            home_id__in=home_ids, person_id__in=people, assessed_on__lte=latest_day
        )
        .order_by("assessed_on", "pk")
        .values("home_id", "person_id", "category", "outcome", "expires_on", "assessed_on")
    ):
        assessments.setdefault((a["home_id"], a["person_id"], a["category"]), []).append(a)
    suspended = set(
        CompetencySuspension.objects.filter(
            home_id__in=home_ids, person_id__in=people, lifted_at__isnull=True
        ).values_list("home_id", "person_id", "category")
    )
    watch = (CellStatus.EXPIRING, CellStatus.EXPIRED)
    items = []
    for m in memberships:
        day = today[m.home_id]
        for course in courses:
            exp = training.get((m.home_id, m.user_id, course.pk))
            cell = Cell(expiry_status(exp, day), exp)
            if cell.status in watch:
                items.append(ExpiryItem(m.home_id, m.user, course.name, cell))
        for category in MedicineCategory:
            key = (m.home_id, m.user_id, category.value)
            current = [a for a in assessments.get(key, []) if a["assessed_on"] <= day]
            cell = competency_cell(current[-1] if current else None, key in suspended, day)
            if cell.status in watch:
                items.append(ExpiryItem(m.home_id, m.user, f"Competency: {category.label}", cell))
    items.sort(key=lambda i: (i.cell.expires_on or dt.date.min, str(i.person), i.what))
    return items
