"""Staff training and competency (R-TRN-1..5): courses, training records, competency
assessments per kind of medicine, suspensions, and the home's medicines policy."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q

from emar.models import CareHome, IdempotentRecord, idempotency_unique, text_max_length

COMPETENCY_VALIDITY_MONTHS = 12  # R-TRN-2
EXPIRING_WITHIN_DAYS = 30  # R-TRN-4, R-ALR-3
DSPT_TARGET_PERCENT = 95  # Data Security and Protection Toolkit: 95% trained each year


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months; a day the target month lacks becomes its last day
    (29 Feb 2028 + 12 months = 28 Feb 2029)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


class MedicineCategory(models.TextChoices):
    """The kinds of medicine a competency covers (R-TRN-2). Prescription lines map to one of
    these, and recording a dose needs an in-date competency for it (R-TRN-3, R-MAR-13)."""

    ORAL = "oral", "Oral"
    TOPICAL = "topical", "Topical (creams, patches)"
    CONTROLLED_DRUGS = "controlled_drugs", "Controlled drugs"
    PRN = "prn", "PRN (when required)"
    COVERT = "covert", "Covert"
    INJECTION = "injection", "Insulin and injections"
    PEG = "peg", "PEG (enteral tube)"
    INHALER = "inhaler", "Inhalers"
    EYE_EAR_NOSE = "eye_ear_nose", "Eye, ear and nose"


class Course(models.Model):
    """A training course with a validity period (R-TRN-1). The default list is shipped by a
    data migration; `code` is stable and the gate and the DSPT figure look courses up by it."""

    SAFE_HANDLING = "safe_handling"  # "medication training" of R-TRN-3
    DATA_SECURITY = "data_security"  # the DSPT course of R-TRN-4

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    validity_months = models.PositiveSmallIntegerField(default=12)
    mandatory = models.BooleanField(
        default=False, help_text="Every member of staff needs it; counts in overall compliance."
    )
    sort_order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(validity_months__gte=1) & Q(validity_months__lte=120),
                name="course_validity_between_1_and_120_months",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def expiry_for(self, completed_on: dt.date) -> dt.date:
        return add_months(completed_on, self.validity_months)


def _private_name(folder: str, filename: str) -> str:
    """An unguessable stored name (R-SEC-5); the original name is kept in its own field."""
    suffix = PurePosixPath(filename).suffix.lower()[:8]
    return f"training/{folder}/{uuid.uuid4().hex}{suffix}"


def certificate_path(instance: TrainingRecord, filename: str) -> str:
    return _private_name("certificates", filename)


def policy_path(instance: MedicinesPolicy, filename: str) -> str:
    return _private_name("policies", filename)


class TrainingRecord(IdempotentRecord):
    """One completed course of one staff member at one home (R-TRN-1). `expires_on` is fixed
    when recorded from the course's validity, so changing a course later rewrites no history.
    It is the first day the training is no longer in date."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="training_records")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="training_records"
    )
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="records")
    completed_on = models.DateField()
    expires_on = models.DateField()
    provider = models.CharField(max_length=200, blank=True)
    certificate = models.FileField(upload_to=certificate_path, blank=True, max_length=200)
    certificate_name = models.CharField(max_length=200, blank=True)
    certificate_type = models.CharField(max_length=40, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["home", "person", "course", "-completed_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__gt=models.F("completed_on")),
                name="training_expires_after_completion",
            ),
            idempotency_unique(),
        ]
        indexes = [
            models.Index(fields=["home", "person", "course"], name="training_home_person_course")
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.course} ({self.completed_on:%d %b %Y})"


class Outcome(models.TextChoices):
    COMPETENT = "competent", "Competent"
    NOT_YET_COMPETENT = "not_yet_competent", "Not yet competent"


class CompetencyAssessment(IdempotentRecord):
    """An observed assessment of one person for one kind of medicine (R-TRN-2). The latest
    assessment for a category is the one that counts; it is in date until the day before
    `expires_on` (12 months after the assessment)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="assessments")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assessments"
    )
    category = models.CharField(max_length=20, choices=MedicineCategory)
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assessments_made"
    )
    assessed_on = models.DateField()
    outcome = models.CharField(max_length=20, choices=Outcome)
    notes = models.TextField(blank=True)
    expires_on = models.DateField()
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["home", "person", "category", "-assessed_on", "-pk"]
        constraints = [
            *text_max_length("notes"),
            models.CheckConstraint(
                condition=Q(expires_on__gt=models.F("assessed_on")),
                name="assessment_expires_after_date",
            ),
            models.CheckConstraint(
                condition=~Q(assessor=models.F("person")), name="assessment_not_of_oneself"
            ),
            idempotency_unique(),
        ]
        indexes = [
            models.Index(fields=["home", "person", "category"], name="assessment_home_person_cat")
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_category_display()} {self.get_outcome_display()}"

    @property
    def is_competent(self) -> bool:
        return self.outcome == Outcome.COMPETENT


class CompetencySuspension(models.Model):
    """A competency suspended, e.g. after a medicines incident naming the person (R-TRN-3).
    It stays in force until a new competent assessment for the category lifts it."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="suspensions")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="suspensions"
    )
    category = models.CharField(max_length=20, choices=MedicineCategory)
    reason = models.TextField()
    incident_ref = models.CharField(max_length=64, blank=True)
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    suspended_at = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        CompetencyAssessment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lifted_suspensions",
    )

    class Meta:
        ordering = ["home", "person", "category", "-suspended_at"]
        constraints = [
            *text_max_length("reason"),
            models.UniqueConstraint(
                fields=["home", "person", "category", "incident_ref"],
                condition=Q(lifted_at__isnull=True) & ~Q(incident_ref=""),
                name="one_open_suspension_per_incident",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="suspension_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_category_display()} suspended"

    @property
    def is_open(self) -> bool:
        return self.lifted_at is None


class MedicinesPolicy(models.Model):
    """One version of the home's medicines policy (R-TRN-5). The newest published version is
    the current one; staff confirm they have read it."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="policies")
    version = models.CharField(max_length=20)
    title = models.CharField(max_length=200, default="Medicines policy")
    review_on = models.DateField(help_text="When the policy is next due for review.")
    document = models.FileField(upload_to=policy_path, max_length=200)
    document_name = models.CharField(max_length=200, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["home", "-published_at", "-pk"]
        verbose_name_plural = "medicines policies"
        constraints = [
            models.UniqueConstraint(fields=["home", "version"], name="policy_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class PolicyConfirmation(models.Model):
    """A staff member confirmed they have read one version of the policy (R-TRN-5)."""

    policy = models.ForeignKey(
        MedicinesPolicy, on_delete=models.PROTECT, related_name="confirmations"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="policy_confirmations"
    )
    confirmed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "person"], name="policy_confirmed_once"),
        ]

    def __str__(self) -> str:
        return f"{self.person} read {self.policy}"


class CellStatus(models.TextChoices):
    """How one person stands for one course or competency (R-TRN-4). Shown in colour AND
    words; "expiring" still counts as in date for compliance."""

    IN_DATE = "in_date", "In date"
    EXPIRING = "expiring", "Expiring within 30 days"
    EXPIRED = "expired", "Expired"
    MISSING = "missing", "Missing"
    SUSPENDED = "suspended", "Suspended"
    NOT_COMPETENT = "not_competent", "Not yet competent"

    @property
    def compliant(self) -> bool:
        return self in (CellStatus.IN_DATE, CellStatus.EXPIRING)

    @property
    def css(self) -> str:
        return {
            CellStatus.IN_DATE: "success",
            CellStatus.EXPIRING: "warning",
            CellStatus.MISSING: "secondary",
        }.get(self, "danger")


def expiry_status(expires_on: dt.date | None, today: dt.date) -> CellStatus:
    """In date up to and including the day before `expires_on`; expired from that day on."""
    if expires_on is None:
        return CellStatus.MISSING
    if expires_on <= today:
        return CellStatus.EXPIRED
    if expires_on <= today + dt.timedelta(days=EXPIRING_WITHIN_DAYS):
        return CellStatus.EXPIRING
    return CellStatus.IN_DATE
