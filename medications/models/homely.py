"""Homely remedies (R-MAR-11, NICE SC1): the home's approved list of non-prescribed medicines,
each resident's GP or pharmacist authorisation, and the doses given under it. Their stock is in
`stock` (`HomelyRemedyStock`)."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from emar.models import (
    CareHome,
    IdempotentRecord,
    User,
    idempotency_unique,
    text_max_length,
)
from residents.models import Allergy, Resident

from .prescriptions import DoseUnit, Medicine, _num

__all__ = [
    "AuthoriserRole",
    "HomelyRemedy",
    "HomelyRemedyAuthorisation",
    "HomelyRemedyDose",
]


class HomelyRemedy(models.Model):
    """A non-prescribed medicine on the home's approved list (R-MAR-11, NICE SC1): product,
    indication, dose, minimum interval, maximum in 24 hours and the number of days it may be
    given before the GP must be asked."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="homely_remedies")
    medicine = models.ForeignKey(Medicine, on_delete=models.PROTECT, related_name="+")
    # Entries from before R-MAR-11 was complete may lack the next four; the service refuses to
    # give from an incomplete entry rather than guess a dose (the admin form requires them).
    indication = models.CharField(max_length=200, default="", help_text="e.g. 'Mild pain or fever'")
    dose = models.DecimalField(
        max_digits=8,
        decimal_places=3,
        null=True,
        help_text="The dose; the lower end for a range.",
    )
    dose_max = models.DecimalField(
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="For a range such as '1 to 2 tablets': the upper end.",
    )
    dose_unit = models.CharField(max_length=12, choices=DoseUnit.choices, default="")
    dose_guidance = models.CharField(max_length=200)
    min_interval_minutes = models.PositiveIntegerField(
        "minimum minutes between doses", null=True, help_text="e.g. 240 for four hours"
    )
    max_doses_24h = models.PositiveSmallIntegerField(default=4)
    max_days = models.PositiveSmallIntegerField(
        default=2,
        help_text="Given on more than this many days in a row: stop and ask the GP.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["home", "medicine__name"]
        constraints = [
            models.UniqueConstraint(fields=["home", "medicine"], name="homely_remedy_once"),
            models.CheckConstraint(condition=Q(dose__gt=0), name="homely_remedy_dose_positive"),
            models.CheckConstraint(
                condition=Q(dose_max__isnull=True) | Q(dose_max__gt=F("dose")),
                name="homely_remedy_dose_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(min_interval_minutes__isnull=True) | Q(min_interval_minutes__gte=1),
                name="homely_remedy_interval_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_doses_24h__gte=1), name="homely_remedy_max_24h_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_days__gte=1), name="homely_remedy_max_days_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.medicine.name} (homely remedy)"

    @property
    def is_complete(self) -> bool:
        return bool(self.indication and self.dose and self.dose_unit and self.min_interval_minutes)

    @property
    def dose_text(self) -> str:
        if self.dose is None:
            return self.dose_guidance
        unit = self.get_dose_unit_display()
        if self.dose_max is not None:
            return f"{_num(self.dose)} to {_num(self.dose_max)} {unit}"
        return f"{_num(self.dose)} {unit}"

    @property
    def limits_text(self) -> str:
        if not self.is_complete:
            return self.dose_guidance
        hours, minutes = divmod(self.min_interval_minutes, 60)
        gap = f"{hours} h" + (f" {minutes} min" if minutes else "") if hours else f"{minutes} min"
        return (
            f"{self.dose_text}; at least {gap} apart; no more than {self.max_doses_24h} doses "
            f"in 24 hours; ask the GP if needed on more than {self.max_days} days in a row"
        )


class AuthoriserRole(models.TextChoices):
    GP = "gp", "GP"
    PHARMACIST = "pharmacist", "Pharmacist"


class HomelyRemedyAuthorisation(IdempotentRecord):
    """A resident's GP or pharmacist agreed that this remedy may be given to them (R-MAR-11,
    NICE SC1): who, when, until which review date, and any exclusions. Recorded by a senior.
    The newest authorisation for a resident and remedy is the one in force; a withdrawn one
    allows nothing."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="homely_remedy_authorisations"
    )
    remedy = models.ForeignKey(
        HomelyRemedy, on_delete=models.PROTECT, related_name="authorisations"
    )
    authorised_by_name = models.CharField("authorised by (name)", max_length=120)
    authorised_by_role = models.CharField("their role", max_length=12, choices=AuthoriserRole)
    authorised_on = models.DateField("date authorised")
    review_date = models.DateField()
    exclusions = models.TextField(
        help_text="When not to give it to this resident, or 'None'.",
    )
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdraw_reason = models.CharField(max_length=300, blank=True)

    # Set by homely_authorisations_in_force: the resident's recorded allergies this remedy
    # matches (R-RX-11).
    allergy_matches: list[Allergy]

    class Meta:
        ordering = ["resident", "remedy", "-recorded_at", "-pk"]
        constraints = [
            *text_max_length("exclusions"),
            models.CheckConstraint(
                condition=Q(review_date__gt=F("authorised_on")),
                name="homely_authorisation_review_after_date",
            ),
            models.CheckConstraint(
                condition=~Q(authorised_by_name="") & ~Q(exclusions=""),
                name="homely_authorisation_who_and_exclusions",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True)
                | (Q(withdrawn_by__isnull=False) & ~Q(withdraw_reason="")),
                name="homely_authorisation_withdrawn_with_reason",
            ),
            idempotency_unique(),
        ]
        indexes = [
            models.Index(fields=["resident", "remedy"], name="homely_auth_resident_remedy"),
        ]

    def __str__(self) -> str:
        return f"{self.remedy} authorised for {self.resident}"

    @property
    def medicine(self) -> Medicine:
        return self.remedy.medicine

    def expired(self, today: dt.date) -> bool:
        return self.review_date < today


class HomelyRemedyDose(models.Model):
    """A homely remedy given to a resident, with reason and dose, under an authorisation
    (R-MAR-11). A prescribed duplicate ingredient or an allergy match is given only with a
    second senior's override and reason."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="homely_remedy_doses"
    )
    remedy = models.ForeignKey(HomelyRemedy, on_delete=models.PROTECT, related_name="doses")
    authorisation = models.ForeignKey(
        HomelyRemedyAuthorisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="doses",
        help_text="Empty only for doses recorded before authorisations were required.",
    )
    quantity = models.DecimalField(max_digits=8, decimal_places=3)
    dose_unit = models.CharField(max_length=20)
    reason = models.TextField()
    administered_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    duplicate_warning = models.CharField(max_length=300, blank=True)
    allergy_warning = models.CharField(max_length=300, blank=True)
    override_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    override_reason = models.TextField(blank=True)
    idempotency_key = models.UUIDField(unique=True)

    # What homely_stock_on_give said about the home's supply (R-MAR-11), for the screen that
    # recorded the dose; not stored.
    stock_warning: str = ""

    class Meta:
        ordering = ["administered_at"]
        constraints = [
            *text_max_length("reason", "override_reason"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="homely_dose_positive"),
            models.CheckConstraint(
                condition=Q(override_by__isnull=True)
                | (~Q(override_by=F("recorded_by")) & ~Q(override_reason="")),
                name="homely_override_by_someone_else_with_reason",
            ),
        ]
        indexes = [
            models.Index(
                fields=["resident", "remedy", "administered_at"], name="homely_dose_resident"
            ),
            models.Index(fields=["home", "administered_at"], name="homely_dose_home_time"),
        ]

    def __str__(self) -> str:
        return f"{self.remedy} for {self.resident}"
