"""The medicines catalogue and prescription lines with their schedules, PRN protocols, covert
plans and self-administration assessments (R-RX-1..10).

Lines are never deleted or edited clinically: a change is a new schedule version (checked by a
second senior) or a stop plus a new line. Protocols, plans and assessments are new rows; the
newest is the one in force.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from emar.models import CareHome, IdempotentRecord, Round, User, idempotency_unique, text_max_length
from residents.models import Allergy, Reconciliation, Resident
from training.models import MedicineCategory

from .. import schedule as sched
from ..dmd import validate_dmd_code

# "Blister pack" or "dosette" is a container, never a medicine (R-RX-2).
_CONTAINER_WORDS = re.compile(
    r"\b(blister|dosette|nomad|monitored dosage|mds\b|compliance aid|pill ?box)", re.IGNORECASE
)


def validate_not_a_container(value: str) -> None:
    if _CONTAINER_WORDS.search(value or ""):
        raise ValidationError(
            "A blister pack or dosette box is a container, not a medicine: enter each medicine "
            "in it as its own line.",
            code="not_a_medicine",
        )


class CdSchedule(models.TextChoices):
    NONE = "none", "Not a controlled drug"
    CD2 = "2", "Schedule 2"
    CD3 = "3", "Schedule 3"
    CD4 = "4", "Schedule 4"
    CD5 = "5", "Schedule 5"


class Storage(models.TextChoices):
    ROOM = "room", "Medicines room / trolley"
    FRIDGE = "fridge", "Fridge (2–8 °C)"
    CD_CUPBOARD = "cd_cupboard", "CD cupboard"


# The training competency categories (R-TRN-2): a line needs an in-date competency for each
# of `PrescriptionLine.competency_categories` (R-TRN-3). One list, owned by training.
Category = MedicineCategory


# Register by default: every Schedule 2 drug, plus these Schedule 3 drugs (R-RX-1).
REGISTER_EXTRAS = ("temazepam", "buprenorphine")


def cd_register_default(cd_schedule: str, ingredients: str, name: str = "") -> bool:
    words = f"{ingredients} {name}".lower()
    return cd_schedule == CdSchedule.CD2 or any(w in words for w in REGISTER_EXTRAS)


class Medicine(models.Model):
    """A product of the catalogue (R-RX-1). `dmd_code` is blank when not known: never invented."""

    name = models.CharField(max_length=200, unique=True, validators=[validate_not_a_container])
    form = models.CharField(max_length=100, blank=True)
    strength = models.CharField(max_length=60, blank=True)
    route = models.CharField(max_length=60, blank=True)
    dmd_code = models.CharField(
        "dm+d code", max_length=18, blank=True, validators=[validate_dmd_code]
    )
    dmd_type = models.CharField(
        "dm+d concept", max_length=3, blank=True, choices=[("VMP", "VMP"), ("AMP", "AMP")]
    )
    code_to_confirm = models.BooleanField(
        default=False,
        help_text="The code's provenance is flagged: confirm it against a current dm+d release.",
    )
    code_source = models.CharField(max_length=1000, blank=True)
    cd_schedule = models.CharField(
        "CD schedule", max_length=4, choices=CdSchedule, default=CdSchedule.NONE
    )
    cd_register = models.BooleanField(
        "CD register", default=False, help_text="Entries go in the controlled drugs register."
    )
    storage = models.CharField(max_length=12, choices=Storage, default=Storage.ROOM)
    ingredients = models.CharField(
        max_length=300,
        blank=True,
        help_text="Active ingredients, comma separated, for allergy and duplicate checks.",
    )
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.ORAL)
    active = models.BooleanField(default=True)
    # R-STK-7: shelf life once opened, from the product information (or the form's published
    # default, medications/shelf_life.py); blank: the form's default applies.
    in_use_days = models.PositiveSmallIntegerField(
        "shelf life once opened (days)",
        null=True,
        blank=True,
        help_text="From the product information, e.g. 28 for eye drops. Blank: the default for "
        "the form.",
    )
    in_use_basis = models.CharField(
        "source of the shelf life once opened", max_length=300, blank=True
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["dmd_code"], condition=~Q(dmd_code=""), name="medicine_dmd_code_unique"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="medicine_name_not_blank"),
            models.CheckConstraint(
                condition=Q(in_use_days__isnull=True) | Q(in_use_days__gt=0),
                name="medicine_in_use_days_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def ingredient_list(self) -> list[str]:
        return [i.strip().lower() for i in self.ingredients.split(",") if i.strip()]

    @property
    def is_cd(self) -> bool:
        return self.cd_schedule != CdSchedule.NONE

    @property
    def code_status(self) -> str:
        if not self.dmd_code:
            return "no dm+d code (unknown)"
        return "dm+d code to confirm" if self.code_to_confirm else "dm+d code"


class LineStatus(models.TextChoices):
    AWAITING_CHECK = "awaiting_check", "Awaiting check"
    ACTIVE = "active", "Active"
    STOPPED = "stopped", "Stopped"


class DoseUnit(models.TextChoices):
    TABLET = "tablet", "tablet(s)"
    CAPSULE = "capsule", "capsule(s)"
    ML = "ml", "ml"
    MG = "mg", "mg"
    MICROGRAM = "microgram", "microgram(s)"
    UNIT = "unit", "unit(s)"
    PUFF = "puff", "puff(s)"
    DROP = "drop", "drop(s)"
    PATCH = "patch", "patch(es)"
    SACHET = "sachet", "sachet(s)"
    SUPPOSITORY = "suppository", "suppository(ies)"
    SPRAY = "spray", "spray(s)"
    APPLICATION = "application", "application(s)"
    ENEMA = "enema", "enema"
    AMPOULE = "ampoule", "ampoule(s)"


class Route(models.TextChoices):
    ORAL = "oral", "By mouth"
    SUBLINGUAL = "sublingual", "Under the tongue"
    BUCCAL = "buccal", "Buccal"
    TOPICAL = "topical", "On the skin (topical)"
    TRANSDERMAL = "transdermal", "Patch (transdermal)"
    INHALED = "inhaled", "Inhaled"
    EYE = "eye", "Eye"
    EAR = "ear", "Ear"
    NOSE = "nose", "Nose"
    RECTAL = "rectal", "Rectal"
    VAGINAL = "vaginal", "Vaginal"
    SUBCUTANEOUS = "subcutaneous", "Subcutaneous injection"
    INTRAMUSCULAR = "intramuscular", "Intramuscular injection"
    ENTERAL_TUBE = "enteral_tube", "Via PEG / enteral tube"


class RxSource(models.TextChoices):
    GP = "gp", "GP prescription"
    HOSPITAL = "hospital", "Hospital discharge"
    PHARMACY_LABEL = "pharmacy_label", "Pharmacy label"
    PHARMACY_IMPORT = "pharmacy_import", "Pharmacy (sent through the API)"
    OTHER = "other", "Other (say which)"


class PrescriptionLine(IdempotentRecord):
    """One medicine for one resident (R-RX-2). Goes live only once checked (R-RX-4)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="lines")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="lines")
    medicine = models.ForeignKey(Medicine, on_delete=models.PROTECT, related_name="lines")
    dose = models.DecimalField(max_digits=8, decimal_places=3)
    dose_max = models.DecimalField(
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="For a range such as '1 to 2 tablets': the upper end.",
    )
    dose_unit = models.CharField(max_length=12, choices=DoseUnit)
    route = models.CharField(max_length=14, choices=Route)
    is_prn = models.BooleanField("PRN (when required)", default=False)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    review_date = models.DateField(null=True, blank=True)
    indication = models.CharField(max_length=200, blank=True)
    instructions = models.CharField(
        "special instructions",
        max_length=300,
        blank=True,
        help_text="e.g. '30 minutes before food'",
    )
    prescriber = models.CharField(max_length=120)
    source = models.CharField(max_length=16, choices=RxSource)
    source_detail = models.CharField(max_length=200, blank=True)
    time_sensitive = models.BooleanField(
        default=False, help_text="e.g. Parkinson's medicines, insulin (R-RX-7)"
    )
    tolerance_minutes = models.PositiveSmallIntegerField(default=15)
    # R-RX-6, R-MAR-8: a PRN line's limits are the prescriber's directions; a protocol may
    # only make them stricter. Empty for regular lines.
    prn_min_interval_minutes = models.PositiveIntegerField(
        "minimum minutes between doses (prescriber's directions)", null=True, blank=True
    )
    prn_max_doses_24h = models.PositiveSmallIntegerField(
        "maximum doses in 24 hours (prescriber's directions)", null=True, blank=True
    )
    status = models.CharField(max_length=16, choices=LineStatus, default=LineStatus.AWAITING_CHECK)
    entered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)
    checked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    allergy_override_reason = models.TextField(blank=True)
    allergy_override_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stop_reason = models.CharField(max_length=300, blank=True)
    stop_authorised_by = models.CharField(max_length=120, blank=True)
    # The keys of the check and stop forms: the same form sent twice answers with the line
    # as the first one left it instead of "not awaiting a check" / "already stopped".
    check_key = models.UUIDField(null=True, blank=True, editable=False)
    stop_key = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["resident", "status", "medicine__name", "pk"]
        indexes = [
            models.Index(fields=["home", "status"], name="line_home_status"),
        ]
        constraints = [
            *text_max_length("allergy_override_reason"),
            models.CheckConstraint(condition=Q(dose__gt=0), name="line_dose_positive"),
            models.CheckConstraint(
                condition=Q(dose_max__isnull=True) | Q(dose_max__gt=F("dose")),
                name="line_dose_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="line_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(tolerance_minutes__gte=1) & Q(tolerance_minutes__lte=120),
                name="line_tolerance_1_to_120",
            ),
            models.CheckConstraint(
                condition=Q(prn_min_interval_minutes__isnull=True)
                | Q(prn_min_interval_minutes__gte=1),
                name="line_prn_interval_positive",
            ),
            models.CheckConstraint(
                condition=Q(prn_max_doses_24h__isnull=True) | Q(prn_max_doses_24h__gte=1),
                name="line_prn_max_positive",
            ),
            # R-RX-4: the checker is never the person who entered the line.
            models.CheckConstraint(
                condition=Q(checked_by__isnull=True) | ~Q(checked_by=F("entered_by")),
                name="line_checked_by_someone_else",
            ),
            models.CheckConstraint(
                condition=~Q(status="active")
                | Q(checked_by__isnull=False, checked_at__isnull=False),
                name="line_live_only_when_checked",
            ),
            models.CheckConstraint(
                condition=~Q(status="stopped")
                | (Q(stopped_at__isnull=False, stopped_by__isnull=False) & ~Q(stop_reason="")),
                name="line_stop_has_reason_and_who",
            ),
            models.CheckConstraint(
                condition=Q(allergy_override_by__isnull=True) | ~Q(allergy_override_reason=""),
                name="line_allergy_override_has_reason",
            ),
            idempotency_unique(),
            models.UniqueConstraint(fields=["check_key"], name="line_one_check_per_key"),
            models.UniqueConstraint(fields=["stop_key"], name="line_one_stop_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.medicine.name} for {self.resident}"

    @property
    def dose_text(self) -> str:
        unit = self.get_dose_unit_display()
        if self.dose_max is not None:
            return f"{_num(self.dose)} to {_num(self.dose_max)} {unit}"
        return f"{_num(self.dose)} {unit}"

    @property
    def needs_witness(self) -> bool:
        return self.medicine.cd_register

    @property
    def is_patch(self) -> bool:
        """A patch: the old one must be confirmed removed before the next goes on (R-MAR-10)."""
        return self.route == Route.TRANSDERMAL or self.dose_unit == DoseUnit.PATCH

    @property
    def needs_site(self) -> bool:
        """Where it went on the body is recorded with every dose given: patches and topical
        applications (R-MAR-10). The one rule for the round, the PRN page and the service."""
        return self.is_patch or self.route == Route.TOPICAL

    @property
    def is_live(self) -> bool:
        return self.status == LineStatus.ACTIVE

    @property
    def category(self) -> str:
        """The line's main competency category (R-TRN-3)."""
        if self.route == Route.ENTERAL_TUBE:
            return Category.PEG
        return self.medicine.category

    def competency_categories(self, *, covert: bool = False) -> list[str]:
        """Every competency a person giving this line needs: its category, plus CD for a
        register drug, PRN for a PRN line and covert when it is given covertly."""
        cats = [self.category]
        if self.medicine.cd_register and Category.CONTROLLED_DRUGS not in cats:
            cats.append(Category.CONTROLLED_DRUGS)
        if self.is_prn:
            cats.append(Category.PRN)
        if covert:
            cats.append(Category.COVERT)
        return cats

    def stops_before(self, at: dt.datetime) -> bool:
        return self.stopped_at is not None and self.stopped_at <= at


def _num(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


class ScheduleVersion(IdempotentRecord):
    """One version of a regular line's schedule (R-RX-3). A change is a new version that takes
    effect when checked and never earlier than its check, so the past is never rewritten."""

    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="versions")
    requested_from = models.DateTimeField()
    effective_from = models.DateTimeField(null=True, blank=True)
    days = models.CharField(
        max_length=14,
        choices=[(r.value, DAY_LABEL) for r, DAY_LABEL in sched.DAY_RULE_LABELS.items()],
        default=sched.DayRule.DAILY,
    )
    # [{"time": "08:00", "round": <Round id or null>, "label": "Morning"}]
    slots = models.JSONField(default=list)
    every_n = models.PositiveSmallIntegerField(default=1)
    weekdays = models.JSONField(default=list, blank=True)
    month_day = models.PositiveSmallIntegerField(default=1)
    cycle_on = models.PositiveSmallIntegerField(default=0)
    cycle_off = models.PositiveSmallIntegerField(default=0)
    anchor = models.DateField(null=True, blank=True)
    dose_rule = models.CharField(
        max_length=10,
        choices=[(r.value, label) for r, label in sched.DOSE_RULE_LABELS.items()],
        default=sched.DoseRule.FIXED,
    )
    taper = models.JSONField(default=list, blank=True)  # [[days, "dose"], ...]
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    checked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["line", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(checked_by__isnull=True) | ~Q(checked_by=F("created_by")),
                name="schedule_checked_by_someone_else",
            ),
            models.CheckConstraint(
                condition=Q(effective_from__isnull=True) | Q(checked_at__isnull=False),
                name="schedule_effective_only_when_checked",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"Schedule of {self.line_id} from {self.effective_from or 'check'}"

    def to_schedule(
        self,
        *,
        dose: Decimal | None,
        rounds: dict[int, Round] | None = None,
        variable: dict[dt.date, Decimal] | None = None,
    ) -> sched.Schedule:
        """The pure schedule; named rounds take the home's current round time."""
        rounds = rounds or {}
        times: list[dt.time] = []
        labels: list[str] = []
        for slot in sorted(self.slots, key=lambda s: s["time"]):
            rnd = rounds.get(slot.get("round")) if slot.get("round") else None
            times.append(rnd.time if rnd else dt.time.fromisoformat(slot["time"]))
            labels.append(rnd.name if rnd else slot.get("label", ""))
        return sched.Schedule(
            times=tuple(times),
            labels=tuple(labels),
            days=sched.DayRule(self.days),
            every_n=self.every_n,
            weekdays=frozenset(self.weekdays),
            month_day=self.month_day,
            cycle_on=self.cycle_on,
            cycle_off=self.cycle_off,
            anchor=self.anchor,
            dose_rule=sched.DoseRule(self.dose_rule),
            dose=dose,
            taper=tuple(sched.TaperStep(int(d), Decimal(str(q))) for d, q in self.taper),
            variable=variable or {},
        )

    @property
    def describe(self) -> str:
        times = ", ".join(
            (f"{s['label']} ({s['time']})" if s.get("label") else s["time"]) for s in self.slots
        )
        rule = sched.DayRule(self.days)
        if rule == sched.DayRule.EVERY_N_DAYS:
            when = f"every {self.every_n} days"
        elif rule == sched.DayRule.WEEKDAYS:
            names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            when = "on " + ", ".join(names[d] for d in sorted(self.weekdays))
        elif rule == sched.DayRule.MONTHLY:
            when = f"monthly on day {self.month_day}"
        elif rule == sched.DayRule.CYCLIC:
            when = f"{self.cycle_on} days on, {self.cycle_off} days off"
        else:
            when = "daily"
        dose = ""
        if self.dose_rule == sched.DoseRule.TAPERING:
            dose = "; tapering " + ", then ".join(f"{q} for {d} days" for d, q in self.taper)
        elif self.dose_rule == sched.DoseRule.VARIABLE:
            dose = "; dose as directed, entered per day"
        return f"{when} at {times}{dose}"


class VariableDose(IdempotentRecord):
    """An "as directed" dose for one day, e.g. warfarin after an INR result (R-RX-3). It records
    the INR, its test date and who advised the dose, and stays awaiting check until a second,
    different senior checks it (R-RX-4); only a checked entry reaches the round. The latest
    entry for a day is the one in force; entries for past days are refused."""

    line = models.ForeignKey(
        PrescriptionLine, on_delete=models.PROTECT, related_name="variable_doses"
    )
    day = models.DateField()
    dose = models.DecimalField(max_digits=8, decimal_places=3)
    inr = models.DecimalField("INR", max_digits=4, decimal_places=1, null=True, blank=True)
    inr_date = models.DateField("INR test date", null=True, blank=True)
    advised_by = models.CharField(
        "who advised the dose", max_length=160, blank=True, help_text="Name and role"
    )
    entered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)
    checked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["line", "day", "entered_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(dose__gte=0), name="variable_dose_not_negative"),
            models.CheckConstraint(
                condition=Q(inr__isnull=True) | (Q(inr__gte=Decimal("0.5")) & Q(inr__lte=15)),
                name="variable_dose_inr_in_range",
            ),
            # R-RX-4: the checker is never the person who entered the dose.
            models.CheckConstraint(
                condition=Q(checked_by__isnull=True) | ~Q(checked_by=F("entered_by")),
                name="variable_dose_checked_by_someone_else",
            ),
            models.CheckConstraint(
                condition=Q(checked_by__isnull=True, checked_at__isnull=True)
                | Q(checked_by__isnull=False, checked_at__isnull=False),
                name="variable_dose_checked_by_and_at",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"{self.dose} on {self.day}"

    @property
    def is_checked(self) -> bool:
        return self.checked_at is not None


class CanAsk(models.TextChoices):
    YES = "yes", "Yes, can ask"
    SOMETIMES = "sometimes", "Sometimes"
    NO = "no", "No: staff must look for the signs"


class PrnProtocol(IdempotentRecord):
    """How and when to offer a PRN medicine (R-RX-6). The newest row is in force."""

    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="protocols")
    indication = models.CharField(max_length=200)
    dose_guidance = models.TextField("dose and how to choose within the range")
    min_interval_minutes = models.PositiveIntegerField("minimum minutes between doses")
    max_doses_24h = models.PositiveSmallIntegerField("maximum doses in 24 hours")
    signs = models.TextField("signs to look for")
    can_ask = models.CharField("can the resident ask for it", max_length=10, choices=CanAsk)
    alternatives = models.TextField("non-drug alternatives to try first")
    contact_prescriber = models.TextField("when to contact the prescriber")
    review_date = models.DateField()
    written_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["line", "-written_at", "-pk"]
        constraints = [
            *text_max_length("dose_guidance", "signs", "alternatives", "contact_prescriber"),
            models.CheckConstraint(
                condition=Q(min_interval_minutes__gte=1), name="prn_interval_positive"
            ),
            models.CheckConstraint(condition=Q(max_doses_24h__gte=1), name="prn_max_positive"),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"PRN protocol for line {self.line_id}"

    def review_overdue(self, today: dt.date) -> bool:
        return self.review_date < today


class CovertPlan(IdempotentRecord):
    """The plan that makes covert administration lawful for one line (R-RX-8)."""

    line = models.ForeignKey(
        PrescriptionLine, on_delete=models.PROTECT, related_name="covert_plans"
    )
    capacity_assessment = models.TextField("mental capacity assessment")
    capacity_assessed_on = models.DateField()
    best_interests_decision = models.TextField()
    best_interests_participants = models.TextField("who took part in the decision")
    decided_on = models.DateField()
    pharmacist_advice = models.TextField("pharmacist advice on how to give it")
    pharmacist = models.CharField(max_length=120)
    review_date = models.DateField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["line", "-recorded_at", "-pk"]
        constraints = [
            *text_max_length(
                "capacity_assessment",
                "best_interests_decision",
                "best_interests_participants",
                "pharmacist_advice",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"Covert plan for line {self.line_id}"

    def review_overdue(self, today: dt.date) -> bool:
        return self.review_date < today


class SelfAdminAssessment(IdempotentRecord):
    """A self-administration risk assessment for one line (R-RX-9)."""

    line = models.ForeignKey(
        PrescriptionLine, on_delete=models.PROTECT, related_name="self_admin_assessments"
    )
    has_capacity = models.BooleanField("understands the medicine and when to take it")
    dexterity_ok = models.BooleanField("can open and use the packaging / device")
    storage_ok = models.BooleanField("has lockable storage in their room")
    low_risk_to_others = models.BooleanField("risk to others is low")
    notes = models.TextField(blank=True)
    self_administers = models.BooleanField("outcome: resident self-administers this medicine")
    review_date = models.DateField()
    assessed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    assessed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["line", "-assessed_at", "-pk"]
        constraints = [
            *text_max_length("notes"),
            # Self-administration is only approved when every risk question is answered well.
            models.CheckConstraint(
                condition=Q(self_administers=False)
                | Q(has_capacity=True, dexterity_ok=True, storage_ok=True, low_risk_to_others=True),
                name="self_admin_only_when_all_checks_pass",
            ),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"Self-administration assessment for line {self.line_id}"

    def review_overdue(self, today: dt.date) -> bool:
        return self.review_date < today


class LineAllergyMatch(models.Model):
    """A recorded allergy that matches a line's product or an ingredient (R-RX-5, R-RX-11).

    Written when the line is checked with a senior's override, and when an allergy added later
    re-checks the resident's live lines. The round shows it on the line ("Allergy match:
    penicillin") while the allergy stays recorded; the seniors on shift were told once
    (`notified_at`)."""

    line = models.ForeignKey(
        PrescriptionLine, on_delete=models.PROTECT, related_name="allergy_matches"
    )
    allergy = models.ForeignKey(Allergy, on_delete=models.PROTECT, related_name="line_matches")
    found_at = models.DateTimeField(default=timezone.now)
    found_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["line", "allergy__substance"]
        constraints = [
            models.UniqueConstraint(fields=["line", "allergy"], name="line_allergy_match_once")
        ]

    def __str__(self) -> str:
        return f"Allergy match: {self.allergy.substance} (line {self.line_id})"


class RestartDecision(models.TextChoices):
    """What a senior decided for a line after the resident came back (R-RES-6)."""

    UNCHANGED = "unchanged", "Restart unchanged"
    CHANGED = "changed", "Changed (stop it and enter the new dose as a new line)"
    STOPPED = "stopped", "Stopped"


class LineRestart(models.Model):
    """A senior's confirmation of one line in the reconciliation that followed a return from
    an absence or a readmission (R-RES-6, R-RES-3, H-16). Until it exists, the line's doses
    from `Reconciliation.lines_held_from` on are held, not due; "changed" and "stopped" stop
    the line (a changed dose is a new line, whose supply follows it, R-STK-8)."""

    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.PROTECT, related_name="line_restarts"
    )
    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="restarts")
    decision = models.CharField(max_length=10, choices=RestartDecision)
    note = models.CharField(max_length=300, blank=True)
    confirmed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["reconciliation", "line"]
        constraints = [
            models.UniqueConstraint(fields=["reconciliation", "line"], name="line_restart_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} (line {self.line_id})"
