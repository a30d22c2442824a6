"""The MAR: scheduled doses and what happened to each (R-MAR-1..13)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from emar.models import (
    CareHome,
    NonAdministrationCode,
    Round,
    Unit,
    User,
    text_max_length,
)
from residents.models import Resident

from ..bodymap import PATCH_SITE_LABELS
from .prescriptions import PrescriptionLine

__all__ = [
    "BODY_SITES",
    "LATE_REASONS",
    "LATE_REASON_NETWORK",
    "LATE_REASON_PAPER",
    "Administration",
    "Adviser",
    "Effectiveness",
    "Outcome",
    "PrnFollowUp",
    "ScheduledDose",
]


# A late entry's reason is free text; these are offered as choices (R-MAR-3). A dose given
# during a network outage, or on a paper round, is entered once back with one of the first two
# (R-OFF-3, R-OFF-4), so audits can tell them from doses recorded late for other reasons.
LATE_REASON_NETWORK = "Network outage: recorded on paper, entered once back"
LATE_REASON_PAPER = "Paper round: entered from the paper MAR"
LATE_REASONS = (
    LATE_REASON_NETWORK,
    LATE_REASON_PAPER,
    "Recorded after the round by the person who gave it",
    "Resident was away from the unit at the time",
)


class ScheduledDose(models.Model):
    """One scheduled dose of one line, materialised from the line's schedule by
    `doses_sync` so that rounds, reminders and audits are indexed queries (R-MAR-2).

    A dose that is no longer due (line stopped, schedule changed, resident left) before anyone
    recorded it is marked cancelled, never deleted, so what was on the round stays explainable.
    """

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="scheduled_doses")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="scheduled_doses")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="scheduled_doses")
    line = models.ForeignKey(
        PrescriptionLine, on_delete=models.PROTECT, related_name="scheduled_doses"
    )
    due_at = models.DateTimeField()
    window_opens = models.DateTimeField()
    window_closes = models.DateTimeField()
    local_date = models.DateField()
    local_time = models.TimeField()
    round = models.ForeignKey(
        Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    round_date = models.DateField(
        null=True,
        blank=True,
        help_text="The day of the round it is given on: a 01:30 dose belongs to the night round "
        "of the day before.",
    )
    label = models.CharField(max_length=60, blank=True)
    dose = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    dose_text = models.CharField(max_length=120)
    needs_dose_entry = models.BooleanField(default=False)
    time_sensitive = models.BooleanField(default=False)
    self_administered = models.BooleanField(default=False)
    covert = models.BooleanField(default=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at", "resident__room", "line_id"]
        constraints = [
            models.UniqueConstraint(fields=["line", "due_at"], name="one_dose_per_line_and_time"),
            models.CheckConstraint(
                condition=Q(window_opens__lte=F("due_at")) & Q(window_closes__gte=F("due_at")),
                name="dose_window_around_due_time",
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "local_date"], name="dose_unit_day"),
            models.Index(fields=["unit", "round_date", "round"], name="dose_unit_round"),
            models.Index(fields=["home", "local_date"], name="dose_home_day"),
            models.Index(fields=["resident", "local_date"], name="dose_resident_day"),
            models.Index(fields=["line", "local_date"], name="dose_line_day"),
            models.Index(
                fields=["window_opens"], condition=Q(cancelled_at__isnull=True), name="dose_opens"
            ),
            models.Index(
                fields=["window_closes"],
                condition=Q(cancelled_at__isnull=True),
                name="dose_closes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line} at {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None


class Outcome(models.TextChoices):
    GIVEN = "given", "Given"
    NOT_GIVEN = "not_given", "Not given"
    # R-MAR-4: only ever a correction; voids the record it corrects (the dose is open again
    # while its window is open, and a gap after).
    IN_ERROR = "in_error", "Recorded in error"


class Adviser(models.TextChoices):
    """Who gave the clinical advice for a PRN override (R-MAR-8)."""

    GP = "gp", "GP"
    OUT_OF_HOURS = "ooh", "Out-of-hours service"
    NHS_111 = "nhs111", "NHS 111"
    NURSE = "nurse", "Nurse"


class Administration(models.Model):
    """One record on the MAR: a dose given, or not given with a code (R-MAR-2). Never edited
    or deleted; a mistake is corrected by a new record pointing at it (R-MAR-4)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="administrations")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="administrations")
    line = models.ForeignKey(
        PrescriptionLine, on_delete=models.PROTECT, related_name="administrations"
    )
    dose = models.ForeignKey(
        ScheduledDose,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="administrations",
        help_text="Empty for PRN doses, which are not scheduled.",
    )
    outcome = models.CharField(max_length=10, choices=Outcome)
    code = models.ForeignKey(
        NonAdministrationCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    administered_at = models.DateTimeField(help_text="When it was given (or not).")
    recorded_at = models.DateTimeField(default=timezone.now, help_text="Server time (R-MAR-3).")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    late = models.BooleanField(default=False)
    late_reason = models.TextField(blank=True)
    note = models.TextField(blank=True)
    final = models.BooleanField(
        default=True, help_text="False for a 'will retry' code such as S (asleep)."
    )
    idempotency_key = models.UUIDField(unique=True)
    corrects = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrected_by",
    )
    correction_reason = models.TextField(blank=True)
    prn_reason = models.TextField(blank=True)
    prn_override_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prn_override_reason = models.TextField(blank=True)
    prn_advised_by_role = models.CharField(
        "who advised the override", max_length=10, choices=Adviser, blank=True
    )
    prn_adviser_name = models.CharField("adviser's name", max_length=120, blank=True)
    prn_advised_at = models.DateTimeField("when the advice was given", null=True, blank=True)
    allergy_confirmed_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The second senior who confirmed a dose that matches an allergy (R-MAR-16).",
    )
    quantity_reason = models.TextField(
        blank=True, help_text="Why a quantity other than the prescribed one (R-MAR-15)."
    )
    body_site = models.CharField(max_length=40, blank=True)
    old_patch_removed = models.BooleanField(null=True, blank=True)
    covert = models.BooleanField(default=False)

    # R-SEC-4: the stock movement a dose made is part of its audited record (emar/audit_trail.py).
    audit_digest_includes = ("stock_movements",)

    # What stock_on_administration said when the ledger could not cover the dose (R-STK-2),
    # for the screen that recorded it; not stored.
    stock_warning: str = ""

    class Meta:
        ordering = ["administered_at", "pk"]
        constraints = [
            *text_max_length(
                "late_reason",
                "note",
                "correction_reason",
                "prn_reason",
                "prn_override_reason",
                "quantity_reason",
            ),
            # R-MAR-5: one outcome per scheduled dose, whoever records it and however often.
            models.UniqueConstraint(
                fields=["dose"],
                condition=Q(final=True, corrects__isnull=True, dose__isnull=False),
                name="one_outcome_per_dose",
            ),
            models.CheckConstraint(
                condition=(
                    Q(outcome="given", code__isnull=True, quantity__gt=0)
                    | Q(outcome="not_given", code__isnull=False)
                    | Q(
                        outcome="in_error",
                        code__isnull=True,
                        quantity__isnull=True,
                        corrects__isnull=False,
                        final=False,
                    )
                ),
                name="given_has_quantity_not_given_has_code",
            ),
            models.CheckConstraint(
                condition=Q(witness__isnull=True) | ~Q(witness=F("recorded_by")),
                name="witness_is_someone_else",
            ),
            models.CheckConstraint(
                condition=Q(late=False) | ~Q(late_reason=""), name="late_entry_has_reason"
            ),
            models.CheckConstraint(
                condition=Q(corrects__isnull=True) | ~Q(correction_reason=""),
                name="correction_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(prn_override_by__isnull=True) | ~Q(prn_override_reason=""),
                name="prn_override_has_reason",
            ),
            # R-MAR-8, H-12: an override with recorded advice (every override since the
            # advice was required) is confirmed by someone other than the giver.
            models.CheckConstraint(
                condition=Q(prn_advised_at__isnull=True)
                | (
                    Q(prn_override_by__isnull=False)
                    & ~Q(prn_override_by=F("recorded_by"))
                    & ~Q(prn_advised_by_role="")
                ),
                name="prn_override_by_another_with_advice",
            ),
            # R-MAR-16: an allergy match is confirmed by someone other than the giver.
            models.CheckConstraint(
                condition=Q(allergy_confirmed_by__isnull=True)
                | ~Q(allergy_confirmed_by=F("recorded_by")),
                name="allergy_confirmed_by_another",
            ),
            models.CheckConstraint(
                condition=Q(administered_at__lte=F("recorded_at")),
                name="administered_not_after_recorded",
            ),
        ]
        indexes = [
            models.Index(fields=["line", "administered_at"], name="admin_line_time"),
            models.Index(fields=["resident", "administered_at"], name="admin_resident_time"),
            models.Index(fields=["home", "administered_at"], name="admin_home_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} {self.line} at {self.administered_at:%Y-%m-%d %H:%M}"

    @property
    def is_given(self) -> bool:
        return self.outcome == Outcome.GIVEN

    @property
    def is_void(self) -> bool:
        return self.outcome == Outcome.IN_ERROR

    @property
    def mar_mark(self) -> str:
        """What a paper MAR would show in the box: initials when given, else the code."""
        if self.is_given:
            return self.recorded_by.shown_initials
        if self.is_void:
            return "—"
        return self.code.code if self.code_id else "?"


class Effectiveness(models.TextChoices):
    EFFECTIVE = "effective", "Effective"
    PARTLY = "partly", "Partly effective"
    NOT_EFFECTIVE = "not_effective", "Not effective"


class PrnFollowUp(models.Model):
    """Was the PRN dose effective? Due 60 minutes after it, prompted until recorded (R-MAR-8)."""

    administration = models.OneToOneField(
        Administration, on_delete=models.PROTECT, related_name="follow_up"
    )
    effectiveness = models.CharField(max_length=14, choices=Effectiveness)
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [*text_max_length("note")]

    def __str__(self) -> str:
        return f"{self.get_effectiveness_display()} ({self.administration_id})"


# R-MAR-10: the patch sites, from the one list of body sites (medications/bodymap.py).
BODY_SITES: tuple[str, ...] = PATCH_SITE_LABELS
