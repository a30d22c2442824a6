"""Residents and their clinical record: allergies, preferences, unit moves, medicines
reconciliation and medication reviews (R-RES-1..5, R-ORG-1).

Clinical rows are never deleted (R-RES-5): foreign keys use PROTECT and leaving the home is a
status with a date, not a deletion.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from pathlib import PurePath

import nhs_number
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from emar.models import CareHome, IdempotentRecord, Unit, User, idempotency_unique, text_max_length

NEEDS_MAX = 2000  # characters of a need or preference (emar.forms.TEXT_MAX)


def validate_nhs_number(value: str) -> None:
    """Ten ASCII digits whose last is the modulus 11 check digit (R-RES-1)."""
    digits = value.replace(" ", "")
    if not (
        digits.isascii() and digits.isdigit() and len(digits) == 10 and nhs_number.is_valid(digits)
    ):
        raise ValidationError(
            "This is not a valid NHS number (10 digits with a correct check digit): type it "
            "as on the NHS card or GP letter, e.g. 943 476 5919.",
            code="nhs_number_invalid",
        )


def normalise_nhs_number(value: str) -> str:
    """The stored form: ASCII digits without spaces or dashes (R-RES-1).

    Digits of any script (Arabic-Indic, full-width) become 0-9, so the same person
    cannot get a second record through another keyboard; anything else that is not a
    separator is kept, so that validation refuses it with a message instead of dropping it.
    """
    result = []
    for ch in value or "":
        if ch.isspace() or unicodedata.category(ch) == "Pd":  # spaces and dashes
            continue
        digit = unicodedata.decimal(ch, None)
        result.append(str(digit) if digit is not None else ch)
    return "".join(result)


def room_order(room: str) -> tuple:
    """Natural order of room labels as on the doors: "1", "2", "10", "A1", "A2", "B10",
    "Room 3" (R-MAR-1). Runs of digits compare as numbers, the rest case-insensitively; each
    part is a (kind, number, text) triple so a number is never compared with text."""
    parts = re.split(r"([0-9]+)", (room or "").strip().casefold())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def format_nhs_number(value: str) -> str:
    """The NHS's own 3-3-4 grouping, e.g. 943 476 5919."""
    return f"{value[:3]} {value[3:6]} {value[6:]}" if len(value) == 10 else value


def photo_path(instance: Resident, filename: str) -> str:
    """An unguessable name: the photo is served only through a permission-checked view
    (R-SEC-5), and the name reveals nothing about the resident."""
    suffix = PurePath(filename).suffix.lower()
    return f"residents/photos/{uuid.uuid4().hex}{suffix}"


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


class AllergyStatus(models.TextChoices):
    UNKNOWN = "unknown", "Allergy status unknown"
    NONE_KNOWN = "none_known", "No known allergies"
    HAS_ALLERGIES = "has_allergies", "Has allergies"


class ResidentStatus(models.TextChoices):
    RESIDENT = "resident", "Resident"
    DISCHARGED = "discharged", "Discharged"
    TRANSFERRED = "transferred", "Transferred"
    DECEASED = "deceased", "Deceased"


class ResidentQuerySet(models.QuerySet):
    def current(self) -> ResidentQuerySet:
        return self.filter(status=ResidentStatus.RESIDENT)


class Resident(IdempotentRecord):
    """A person living in one unit of a home at a time (R-RES-1, R-ORG-1)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="residents")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="residents")
    room = models.CharField(max_length=20)
    full_name = models.CharField(max_length=200)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    nhs_number = models.CharField(
        "NHS number", max_length=10, blank=True, validators=[validate_nhs_number]
    )
    photo = models.FileField(upload_to=photo_path, blank=True, max_length=200)
    photo_content_type = models.CharField(max_length=50, blank=True)
    gp_practice = models.CharField("GP practice", max_length=200, blank=True)
    pharmacy = models.CharField("supplying pharmacy", max_length=200, blank=True)
    weight_kg = models.DecimalField(
        "weight (kg)", max_digits=5, decimal_places=1, null=True, blank=True
    )
    weight_date = models.DateField("weighed on", null=True, blank=True)
    allergy_status = models.CharField(
        max_length=16, choices=AllergyStatus, default=AllergyStatus.UNKNOWN
    )
    # Shown on every round (R-MAR-1): bounded here and by the database (R-REL-1).
    swallowing_needs = models.TextField(blank=True, max_length=NEEDS_MAX)
    communication_needs = models.TextField(blank=True, max_length=NEEDS_MAX)
    medicine_preferences = models.TextField(
        "how they like to take their medicines",
        blank=True,
        max_length=NEEDS_MAX,
        help_text="Shown at the point of administration, e.g. 'one tablet at a time with "
        "orange juice, sitting up in the lounge'.",
    )
    admitted_on = models.DateField()
    status = models.CharField(
        max_length=12, choices=ResidentStatus, default=ResidentStatus.RESIDENT
    )
    left_on = models.DateField(null=True, blank=True)
    left_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ResidentQuerySet.as_manager()

    class Meta:
        ordering = ["home", "unit__name", "room", "full_name"]
        constraints = [
            *text_max_length("left_note"),
            models.UniqueConstraint(
                fields=["home", "nhs_number"],
                condition=~Q(nhs_number=""),
                name="resident_nhs_number_unique_in_home",
            ),
            models.CheckConstraint(
                condition=Q(status="resident", left_on__isnull=True)
                | (~Q(status="resident") & Q(left_on__isnull=False)),
                name="resident_left_on_iff_left",
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weight_kg__gt=0),
                name="resident_weight_positive",
            ),
            models.CheckConstraint(condition=~Q(full_name=""), name="resident_full_name_not_blank"),
            *(
                models.CheckConstraint(
                    condition=LessThanOrEqual(Length(field), NEEDS_MAX),
                    name=f"resident_{field}_max_length",
                )
                for field in ("swallowing_needs", "communication_needs", "medicine_preferences")
            ),
            idempotency_unique(),
        ]
        indexes = [models.Index(fields=["home", "status"], name="resident_home_status")]

    def __str__(self) -> str:
        return self.full_name

    @property
    def shown_name(self) -> str:
        if self.preferred_name and self.preferred_name not in self.full_name.split():
            return f"{self.full_name} ({self.preferred_name})"
        return self.full_name

    @property
    def nhs_number_display(self) -> str:
        return format_nhs_number(self.nhs_number)

    @property
    def is_current(self) -> bool:
        return self.status == ResidentStatus.RESIDENT

    @property
    def initials(self) -> str:
        return "".join(p[0] for p in self.full_name.split()[:3]).upper()

    def age_on(self, day: dt.date) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    def review_overdue(self, today: dt.date, last_review: dt.date | None) -> bool:
        """R-RES-4: the last medication review (or, with none yet, the admission) is more than
        12 months old."""
        since = last_review or self.admitted_on
        return since < years_before(today, 1)


class AllergySeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    LIFE_THREATENING = "life_threatening", "Life-threatening (anaphylaxis)"
    UNKNOWN = "unknown", "Severity not known"


class Allergy(IdempotentRecord):
    """One recorded allergy (R-RES-2). Withdrawn allergies are kept, marked as removed."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="allergies")
    substance = models.CharField(max_length=120)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(
        max_length=20, choices=AllergySeverity, default=AllergySeverity.UNKNOWN
    )
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removed_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["resident", "substance"]
        verbose_name_plural = "allergies"
        constraints = [
            models.CheckConstraint(condition=~Q(substance=""), name="allergy_substance_not_blank"),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True) | ~Q(removed_reason=""),
                name="allergy_removal_has_reason",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return self.substance

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class AllergyStatusChange(models.Model):
    """One change of a resident's allergy status, with who, when and why (R-RES-2). Kept for
    good: the reason is the record a senior resolves an unknown status from (H-11)."""

    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="allergy_status_changes"
    )
    from_status = models.CharField(max_length=16, choices=AllergyStatus)
    to_status = models.CharField(max_length=16, choices=AllergyStatus)
    reason = models.CharField(max_length=300)
    changed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resident", "-changed_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""), name="allergy_status_change_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(from_status=F("to_status")),
                name="allergy_status_change_changes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resident}: {self.from_status} → {self.to_status}"


class UnitMove(models.Model):
    """Where a resident lived and when (R-ORG-1). The first row is the admission."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="moves")
    from_unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_room = models.CharField(max_length=20, blank=True)
    to_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    to_room = models.CharField(max_length=20)
    moved_at = models.DateTimeField(default=timezone.now)
    moved_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["resident", "moved_at", "pk"]

    def __str__(self) -> str:
        return f"{self.resident} → {self.to_unit.name} {self.to_room}"


class ReconciliationReason(models.TextChoices):
    ADMISSION = "admission", "Admission"
    HOSPITAL_RETURN = "hospital_return", "Return from hospital"
    OTHER = "other", "Other transfer of care"


class ReconciliationSource(models.TextChoices):
    DISCHARGE_LETTER = "discharge_letter", "Hospital discharge letter"
    GP_RECORD = "gp_record", "GP record / summary care record"
    PREVIOUS_MAR = "previous_mar", "Previous MAR chart"
    OWN_SUPPLY = "own_supply", "Resident's own supply"
    PHARMACY = "pharmacy", "Community pharmacy record"
    RESIDENT_FAMILY = "resident_family", "Resident or family"


class Reconciliation(IdempotentRecord):
    """Medicines reconciliation after admission or a hospital stay (R-RES-3)."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="reconciliations")
    reason = models.CharField(max_length=20, choices=ReconciliationReason)
    arrived_on = models.DateField(help_text="The day of admission or of return to the home.")
    sources = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    started_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    completed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    lines_held_from = models.DateTimeField(
        null=True,
        blank=True,
        help_text="After a return or a readmission: the resident's lines from before this time "
        "are held (not due) until a senior confirms each (R-RES-6).",
    )

    class Meta:
        ordering = ["resident", "-arrived_on", "-pk"]
        constraints = [
            *text_max_length("notes"),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True, completed_by__isnull=True)
                | Q(completed_at__isnull=False, completed_by__isnull=False),
                name="reconciliation_completed_with_who",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} reconciliation for {self.resident}"

    @property
    def source_labels(self) -> list[str]:
        labels = dict(ReconciliationSource.choices)
        return [labels.get(s, s) for s in self.sources]

    def time_to_reconcile(self, tz) -> dt.timedelta | None:
        """From the start of the arrival day (home's local time) to completion (R-RES-3)."""
        if self.completed_at is None:
            return None
        start = dt.datetime.combine(self.arrived_on, dt.time(0), tzinfo=tz)
        return self.completed_at - start


class Discrepancy(IdempotentRecord):
    """One difference found between the sources, and how it was resolved (R-RES-3)."""

    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.PROTECT, related_name="discrepancies"
    )
    description = models.TextField()
    resolution = models.TextField(blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["reconciliation", "recorded_at", "pk"]
        verbose_name_plural = "discrepancies"
        constraints = [
            *text_max_length("description", "resolution"),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True)
                | (Q(resolved_by__isnull=False) & ~Q(resolution="")),
                name="discrepancy_resolution_has_who_and_how",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return self.description[:60]

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class MedicationReview(IdempotentRecord):
    """A structured medication review (R-RES-4)."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="reviews")
    held_on = models.DateField()
    participants = models.TextField(help_text="Who took part, e.g. GP, pharmacist, resident.")
    outcome = models.TextField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resident", "-held_on", "-pk"]
        constraints = [*text_max_length("participants", "outcome"), idempotency_unique()]

    def __str__(self) -> str:
        return f"Review of {self.resident} on {self.held_on:%d %b %Y}"


class AbsenceKind(models.TextChoices):
    """Where an absent resident is (R-RES-6); each maps to the home's absence code (R-MAR-6)."""

    HOSPITAL = "hospital", "In hospital"
    LEAVE = "leave", "On leave"
    RESPITE = "respite", "Respite elsewhere"


# The non-administration code their due doses are recorded with (R-MAR-6 default set).
ABSENCE_CODES: dict[str, str] = {
    AbsenceKind.HOSPITAL: "H",
    AbsenceKind.LEAVE: "L",
    AbsenceKind.RESPITE: "L",
}


class Absence(IdempotentRecord):
    """A resident away from the home from a time, with an expected return (R-RES-6, H-16).

    While open, their due doses are recorded H or L by the background job and do not escalate;
    the return starts a reconciliation (R-RES-3) and holds their lines until a senior confirms
    each. Kept for good: the history of stays in hospital is part of the record.
    """

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="absences")
    kind = models.CharField(max_length=10, choices=AbsenceKind)
    started_at = models.DateTimeField()
    expected_return = models.DateField()
    note = models.CharField(max_length=300, blank=True)
    started_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_by_leaving = models.BooleanField(
        default=False,
        help_text="Closed because the resident left the home while away (R-RES-5), not a return.",
    )
    reconciliation = models.OneToOneField(
        Reconciliation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="absence",
        help_text="The reconciliation the return started (R-RES-3).",
    )

    class Meta:
        ordering = ["resident", "-started_at", "-pk"]
        constraints = [
            # Away twice at once is impossible, whoever marks it and however often.
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(returned_at__isnull=True),
                name="absence_one_open_per_resident",
            ),
            models.CheckConstraint(
                condition=Q(returned_at__isnull=True, returned_by__isnull=True)
                | Q(returned_at__isnull=False, returned_by__isnull=False),
                name="absence_returned_with_who",
            ),
            models.CheckConstraint(
                condition=Q(returned_at__isnull=True) | Q(returned_at__gte=F("started_at")),
                name="absence_return_after_start",
            ),
            idempotency_unique(),
        ]
        indexes = [
            models.Index(
                fields=["started_at"], condition=Q(returned_at__isnull=True), name="absence_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident}: {self.get_kind_display().lower()}"

    @property
    def code(self) -> str:
        return ABSENCE_CODES[self.kind]

    @property
    def is_open(self) -> bool:
        return self.returned_at is None

    def covers(self, at: dt.datetime) -> bool:
        return self.started_at <= at and (self.returned_at is None or at < self.returned_at)


class DocumentKind(models.TextChoices):
    """What a resident's document is (R-RES-7)."""

    DISCHARGE_LETTER = "discharge_letter", "Hospital discharge letter"
    GP_PRESCRIPTION = "gp_prescription", "GP prescription"
    CAPACITY_ASSESSMENT = "capacity_assessment", "Mental capacity assessment"
    COVERT_PLAN = "covert_plan", "Covert administration plan"
    PHARMACY_LETTER = "pharmacy_letter", "Pharmacy letter"
    OTHER = "other", "Other"


def document_path(instance: ResidentDocument, filename: str) -> str:
    """An unguessable stored name (R-SEC-5): the file is served only through a
    permission-checked view, and the name says nothing about the resident or the document."""
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"residents/documents/{uuid.uuid4().hex}{suffix}"


class ResidentDocument(IdempotentRecord):
    """A PDF or image attached to a resident: discharge letter, GP prescription, capacity
    assessment, covert plan, pharmacy letter (R-RES-7, R-SEC-5).

    Never edited: a wrong upload is withdrawn by a `DocumentWithdrawal` with a reason, and the
    file stays for the record (what staff read and acted on must remain readable)."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=24, choices=DocumentKind)
    title = models.CharField(max_length=200)
    file = models.FileField(upload_to=document_path, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField(help_text="Bytes.")
    sha256 = models.CharField("SHA-256 of the file", max_length=64)
    reconciliation = models.ForeignKey(
        Reconciliation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="documents",
        help_text="The reconciliation this document is a source of (R-RES-3).",
    )
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resident", "-uploaded_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="resident_document_has_title"),
            models.CheckConstraint(condition=Q(size__gt=0), name="resident_document_not_empty"),
            models.CheckConstraint(
                condition=Q(content_type__in=["application/pdf", "image/png", "image/jpeg"]),
                name="resident_document_pdf_or_image",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf"

    @property
    def withdrawn(self) -> DocumentWithdrawal | None:
        try:
            return self.withdrawal
        except DocumentWithdrawal.DoesNotExist:
            return None


class DocumentWithdrawal(models.Model):
    """A document uploaded in error, withdrawn with a reason (R-RES-7). The document and its
    file stay; lists show it as withdrawn. One per document, whoever presses first."""

    document = models.OneToOneField(
        ResidentDocument, on_delete=models.PROTECT, related_name="withdrawal"
    )
    reason = models.CharField(max_length=300)
    withdrawn_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    withdrawn_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="document_withdrawal_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.document} withdrawn"
