"""Monthly medicines audits (R-AUD-1..4), incidents (R-AUD-5) and inspector access to reports
(R-INS-1, R-INS-2).

An audit keeps its computed metrics as a JSON snapshot, so once it is signed nothing that
happens to the records later (a late entry, a correction) changes what was signed; the signed
report PDF is stored once and served as the same file every time.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone

from emar.models import (
    LONG_TEXT_MAX,
    BackgroundBuild,
    BuildStatus,
    CareHome,
    IdempotentRecord,
    User,
    auto_retry_constraint,
    idempotency_unique,
    text_max_length,
)
from residents.models import Resident
from training.models import MedicineCategory

# --- Audit --------------------------------------------------------------------------------------


class AuditStatus(models.TextChoices):
    DRAFT = "draft", "In progress"
    SIGNED = "signed", "Signed"


class Rag(models.TextChoices):
    RED = "red", "Red"
    AMBER = "amber", "Amber"
    GREEN = "green", "Green"


# Checklist score (yes out of yes + no) at or above which the audit is green / amber (R-AUD-2).
GREEN_FROM, AMBER_FROM = 90, 75


def rag_for(score: int | None) -> str | None:
    if score is None:
        return None
    if score >= GREEN_FROM:
        return Rag.GREEN
    return Rag.AMBER if score >= AMBER_FROM else Rag.RED


class Audit(models.Model):
    """One home's medicines audit of one calendar month (R-AUD-1)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="audits")
    month = models.DateField(help_text="The first day of the audited month.")
    status = models.CharField(max_length=8, choices=AuditStatus, default="draft")
    metrics = models.JSONField(default=dict, blank=True)
    metrics_at = models.DateTimeField(null=True, blank=True)
    prepared_at = models.DateTimeField(default=timezone.now)
    prepared_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    summary = models.TextField("manager's summary", blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    rag = models.CharField(max_length=5, choices=Rag, blank=True)
    # What was signed: the checklist and the actions as they stood (the metrics are above).
    signed_snapshot = models.JSONField(default=dict, blank=True)
    signed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["home", "-month"]
        constraints = [
            *text_max_length("summary", limit=LONG_TEXT_MAX),
            models.UniqueConstraint(fields=["home", "month"], name="audit_once_per_home_month"),
            models.CheckConstraint(
                condition=Q(status="draft", signed_at__isnull=True)
                | Q(status="signed", signed_at__isnull=False, signed_by__isnull=False),
                name="audit_signed_has_signature",
            ),
        ]

    def __str__(self) -> str:
        return f"Medicines audit {self.month:%B %Y} — {self.home}"

    @property
    def is_signed(self) -> bool:
        return self.status == AuditStatus.SIGNED

    @property
    def month_end(self) -> dt.date:
        return next_month(self.month) - dt.timedelta(days=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


class Section(models.TextChoices):
    STORAGE = "storage", "Storage"
    RECORDS = "records", "Records (MAR)"
    PRN = "prn", "PRN protocols"
    CD = "cd", "Controlled drugs"
    COVERT = "covert", "Covert administration"
    SELF_ADMIN = "self_admin", "Self-administration"
    DISPOSAL = "disposal", "Disposal and returns"
    TRAINING = "training", "Training and competency"


class ChecklistQuestion(models.Model):
    """One question of the audit checklist (R-AUD-2). The default set is loaded by a data
    migration; retired questions stay (inactive) so old audits still read."""

    code = models.SlugField(max_length=40, unique=True)
    section = models.CharField(max_length=12, choices=Section)
    text = models.CharField(max_length=300)
    guidance = models.CharField(max_length=300, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "pk"]

    def __str__(self) -> str:
        return self.text


class Answer(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    NA = "na", "N/A"


class ChecklistAnswer(models.Model):
    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(ChecklistQuestion, on_delete=models.PROTECT, related_name="+")
    answer = models.CharField(max_length=3, choices=Answer)
    comment = models.TextField(blank=True)
    answered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            *text_max_length("comment"),
            models.UniqueConstraint(
                fields=["audit", "question"], name="checklist_answer_once_per_question"
            ),
            models.CheckConstraint(
                condition=~Q(answer="no") | ~Q(comment=""), name="checklist_no_has_comment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question.code}: {self.answer}"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class AuditAction(IdempotentRecord):
    """A finding turned into an action (R-AUD-3). It belongs to the audit that raised it and is
    carried forward, while open, into every later audit of the home."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="audit_actions")
    raised_in = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="actions")
    description = models.TextField()
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="audit_actions")
    due_on = models.DateField()
    status = models.CharField(max_length=12, choices=ActionStatus, default="open")
    closed_in = models.ForeignKey(
        Audit, null=True, blank=True, on_delete=models.PROTECT, related_name="closed_actions"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            *text_max_length("description", "note"),
            models.CheckConstraint(
                condition=Q(status="done", closed_in__isnull=False)
                | (~Q(status="done") & Q(closed_in__isnull=True)),
                name="audit_action_done_iff_closed",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return self.description[:60]

    @property
    def is_open(self) -> bool:
        return self.status != ActionStatus.DONE


def report_path(instance: models.Model, filename: str) -> str:
    # The name is the unguessable token; files are only served through a checked view.
    return f"audits/{filename}"


class AuditReport(BackgroundBuild):
    """The signed audit's PDF (R-AUD-4): one row per audit, built once by a background job and
    then always served from the stored file."""

    audit = models.OneToOneField(Audit, on_delete=models.PROTECT, related_name="report")
    status = models.CharField(max_length=8, choices=BuildStatus.choices, default="queued")
    progress = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=report_path, blank=True, max_length=200)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    build_task = "audits.tasks.audit_report_build"

    class Meta:
        constraints = [
            *text_max_length("error"),
            models.CheckConstraint(
                condition=~Q(status="ready") | ~Q(sha256=""), name="audit_report_ready_has_file"
            ),
            auto_retry_constraint("audit_report"),
        ]

    def __str__(self) -> str:
        return f"Report of {self.audit} ({self.status})"

    @property
    def is_ready(self) -> bool:
        return self.status == BuildStatus.READY


class EvidencePack(BackgroundBuild):
    """A ZIP of the reports for a period, for an inspection (R-INS-2), built in the background."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="evidence_packs")
    start = models.DateField()
    end = models.DateField()
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=8, choices=BuildStatus.choices, default="queued")
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=120, blank=True)
    file = models.FileField(upload_to=report_path, blank=True, max_length=200)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    contents = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    build_task = "audits.tasks.evidence_pack_build"

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            *text_max_length("error"),
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="pack_end_after"),
            auto_retry_constraint("evidence_pack"),
        ]

    def __str__(self) -> str:
        return f"Evidence pack {self.start}–{self.end} ({self.home})"

    @property
    def is_ready(self) -> bool:
        return self.status == BuildStatus.READY


# --- Incidents (R-AUD-5) ------------------------------------------------------------------------


class IncidentKind(models.TextChoices):
    ERROR = "error", "Medicines error"
    NEAR_MISS = "near_miss", "Near miss (did not reach the resident)"


class Stage(models.TextChoices):
    PRESCRIBING = "prescribing", "Prescribing"
    DISPENSING = "dispensing", "Dispensing"
    ADMINISTERING = "administering", "Administering"
    MONITORING = "monitoring", "Monitoring"
    STORAGE = "storage", "Storage"


class IncidentType(models.TextChoices):
    OMITTED = "omitted", "Dose omitted"
    WRONG_DOSE = "wrong_dose", "Wrong dose or strength"
    WRONG_MEDICINE = "wrong_medicine", "Wrong medicine"
    WRONG_RESIDENT = "wrong_resident", "Wrong resident"
    WRONG_TIME = "wrong_time", "Wrong time (including time-sensitive)"
    WRONG_ROUTE = "wrong_route", "Wrong route or method"
    EXTRA_DOSE = "extra_dose", "Dose given twice / extra dose"
    RECORDING = "recording", "Recording error (MAR)"
    CD = "cd", "Controlled drug discrepancy"
    STORAGE = "storage", "Storage / temperature"
    ALLERGY = "allergy", "Given despite a known allergy"
    OTHER = "other", "Other"


class Harm(models.TextChoices):
    NONE = "none", "No harm"
    LOW = "low", "Low harm"
    MODERATE = "moderate", "Moderate harm"
    SEVERE = "severe", "Severe harm"
    DEATH = "death", "Death"


# The statutory duty of candour (Regulation 20) applies from moderate harm; CQC must be notified
# (Regulation 18) of serious injury, death and abuse or an allegation of abuse.
CANDOUR_HARMS = (Harm.MODERATE, Harm.SEVERE, Harm.DEATH)
CQC_HARMS = (Harm.SEVERE, Harm.DEATH)


class Incident(IdempotentRecord):
    """A medicines error or near miss (R-AUD-5)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="incidents")
    reference = models.CharField(max_length=20)
    kind = models.CharField(max_length=10, choices=IncidentKind)
    stage = models.CharField(max_length=14, choices=Stage)
    type = models.CharField(max_length=16, choices=IncidentType)
    harm = models.CharField(max_length=8, choices=Harm)
    occurred_at = models.DateTimeField()
    description = models.TextField()
    immediate_action = models.TextField()
    abuse_suspected = models.BooleanField(
        "abuse or an allegation of abuse is involved", default=False
    )
    staff = models.ManyToManyField(User, blank=True, related_name="+")
    residents = models.ManyToManyField(Resident, blank=True, related_name="+")
    suspended_categories = models.JSONField(default=list, blank=True)
    reported_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(default=timezone.now)
    candour_done_on = models.DateField("duty of candour met on", null=True, blank=True)
    cqc_notified_on = models.DateField("CQC notified on", null=True, blank=True)
    safeguarding_referred_on = models.DateField(null=True, blank=True)
    follow_up = models.TextField("investigation and learning", blank=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            *text_max_length("description", "immediate_action", "follow_up", limit=LONG_TEXT_MAX),
            models.UniqueConstraint(
                fields=["home", "reference"], name="incident_reference_unique_in_home"
            ),
            models.CheckConstraint(
                condition=~Q(kind="near_miss") | Q(harm="none"), name="near_miss_has_no_harm"
            ),
            idempotency_unique(),
        ]
        indexes = [models.Index(fields=["home", "occurred_at"], name="incident_home_time")]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_type_display()}"

    @property
    def candour_applies(self) -> bool:
        return self.harm in CANDOUR_HARMS

    @property
    def cqc_notification_due(self) -> bool:
        return self.harm in CQC_HARMS or self.abuse_suspected

    @property
    def suspended_labels(self) -> list[str]:
        return [MedicineCategory(c).label for c in self.suspended_categories]


# --- Inspector access (R-INS-1) -----------------------------------------------------------------


class AccessLog(models.Model):
    """Who looked at or downloaded what in the reports area (R-INS-1). Append-only."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="access_logs")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=10)
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=10)  # "view" or "download"
    what = models.CharField(max_length=200)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    path = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["home", "-at"], name="access_log_home_time")]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.what}"
