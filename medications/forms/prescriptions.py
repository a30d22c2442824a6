"""Forms of prescriptions: validate and convert. The clinical rules live in services."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django import forms

from emar.forms import Form, IdempotencyKeyMixin
from emar.models import CareHome, Round

from .. import bodymap
from .. import schedule as sched
from ..models import (
    AuthoriserRole,
    CanAsk,
    DoseUnit,
    HomelyRemedy,
    Medicine,
    RestartDecision,
    Route,
    RxSource,
)
from ..selectors import medicines_search
from ..services import ScheduleInput, SiteInput, lines_held

DATE = forms.DateInput(attrs={"type": "date"})
WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


def parse_times(text: str) -> list[dt.time]:
    result = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        try:
            result.append(dt.time.fromisoformat(part if len(part) > 2 else f"{part}:00"))
        except ValueError:
            raise forms.ValidationError(
                f"{part!r} is not a time: use the 24-hour clock, e.g. 08:00, 14:30."
            ) from None
    return result


def parse_taper(text: str) -> list[tuple[int, Decimal]]:
    """ "5 x 40, 5 x 30" = 40 for 5 days, then 30 for 5 days."""
    steps = []
    for part in [p for p in re.split(r"[;,\n]+", text) if p.strip()]:
        m = re.fullmatch(r"\s*(\d+)\s*(?:days?)?\s*[x×:]\s*([\d.]+)\s*", part)
        if not m:
            raise forms.ValidationError(
                f"{part.strip()!r}: write each step as DAYS x DOSE, e.g. 5 x 40."
            )
        try:
            steps.append((int(m.group(1)), Decimal(m.group(2))))
        except InvalidOperation:
            raise forms.ValidationError(f"{m.group(2)!r} is not a dose.") from None
    return steps


class ScheduleFields(Form):
    """The schedule part of the add-line and change-schedule forms (R-RX-3)."""

    days = forms.ChoiceField(
        label="Which days",
        choices=[(k.value, v) for k, v in sched.DAY_RULE_LABELS.items()],
        initial=sched.DayRule.DAILY,
        required=False,
    )
    rounds = forms.ModelMultipleChoiceField(
        queryset=Round.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="At the home's rounds",
    )
    times = forms.CharField(
        required=False,
        label="Or at these times",
        help_text="24-hour clock, separated by commas, e.g. 07:00, 11:00, 15:00, 19:00",
    )
    every_n = forms.IntegerField(
        label="Every N days", min_value=1, max_value=366, initial=1, required=False
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    month_day = forms.IntegerField(
        label="Day of the month", min_value=1, max_value=31, initial=1, required=False
    )
    cycle_on = forms.IntegerField(
        label="Days on", min_value=0, max_value=366, required=False, initial=0
    )
    cycle_off = forms.IntegerField(
        label="Days off", min_value=0, max_value=366, required=False, initial=0
    )
    dose_rule = forms.ChoiceField(
        label="Dose pattern",
        choices=[(k.value, v) for k, v in sched.DOSE_RULE_LABELS.items()],
        initial=sched.DoseRule.FIXED,
        required=False,
    )
    taper = forms.CharField(
        required=False,
        label="Tapering steps",
        help_text="DAYS x DOSE per step, e.g. 5 x 40, 5 x 30, 5 x 20",
    )

    def __init__(self, *args, home: CareHome, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rounds"].queryset = Round.objects.filter(home=home).order_by("time")
        # Only the chosen schedule type's fields show (static/emar/show-when.js); without
        # JavaScript they all stay visible and usable.
        for name, rule in self.SHOW_WHEN.items():
            self.fields[name].widget.attrs["data-show-when"] = rule

    SHOW_WHEN = {
        "every_n": f"days={sched.DayRule.EVERY_N_DAYS}",
        "weekdays": f"days={sched.DayRule.WEEKDAYS}",
        "month_day": f"days={sched.DayRule.MONTHLY}",
        "cycle_on": f"days={sched.DayRule.CYCLIC}",
        "cycle_off": f"days={sched.DayRule.CYCLIC}",
        "taper": f"dose_rule={sched.DoseRule.TAPERING}",
    }

    def clean_times(self) -> list[dt.time]:
        return parse_times(self.cleaned_data.get("times") or "")

    def clean_taper(self) -> list[tuple[int, Decimal]]:
        return parse_taper(self.cleaned_data.get("taper") or "")

    def schedule_input(self) -> ScheduleInput:
        data = self.cleaned_data
        slots: list[tuple[dt.time, int | None, str]] = [
            (r.time, r.pk, r.name) for r in data.get("rounds") or []
        ]
        taken = {t for t, _, _ in slots}
        slots += [(t, None, "") for t in data.get("times") or [] if t not in taken]
        return ScheduleInput(
            slots=slots,
            days=data.get("days") or sched.DayRule.DAILY,
            every_n=data.get("every_n") or 1,
            weekdays=list(data.get("weekdays") or []),
            month_day=data.get("month_day") or 1,
            cycle_on=data.get("cycle_on") or 0,
            cycle_off=data.get("cycle_off") or 0,
            dose_rule=data.get("dose_rule") or sched.DoseRule.FIXED,
            taper=data.get("taper") or [],
        )


class LineForm(IdempotencyKeyMixin, ScheduleFields):
    medicine = forms.ModelChoiceField(queryset=Medicine.objects.none())
    dose = forms.DecimalField(
        min_value=Decimal("0.001"),
        max_digits=8,
        decimal_places=3,
        label="Amount per dose",
        help_text="How many units each time, e.g. 1 (tablet) or 5 (ml).",
    )
    dose_max = forms.DecimalField(
        required=False,
        min_value=Decimal("0.001"),
        max_digits=8,
        decimal_places=3,
        label="Up to (for a range)",
    )
    dose_unit = forms.ChoiceField(choices=DoseUnit.choices)
    route = forms.ChoiceField(choices=Route.choices)
    is_prn = forms.BooleanField(required=False, label="PRN (when required)")
    prn_min_interval_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10080,
        label="PRN: minimum minutes between doses (from the prescriber's directions)",
    )
    prn_max_doses_24h = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=48,
        label="PRN: maximum doses in 24 hours (from the prescriber's directions)",
    )
    start_date = forms.DateField(widget=DATE)
    end_date = forms.DateField(widget=DATE, required=False)
    review_date = forms.DateField(widget=DATE, required=False)
    indication = forms.CharField(max_length=200, required=False)
    instructions = forms.CharField(
        max_length=300,
        required=False,
        label="Special instructions",
        help_text="e.g. 30 minutes before food",
    )
    prescriber = forms.CharField(max_length=120)
    # A line typed in is never "from the pharmacy through the API" (R-RX-12).
    source = forms.ChoiceField(
        choices=[c for c in RxSource.choices if c[0] != RxSource.PHARMACY_IMPORT]
    )
    source_detail = forms.CharField(
        max_length=200,
        required=False,
        label="Source reference",
        help_text="e.g. discharge letter of 3 Nov, FP10 number",
    )
    time_sensitive = forms.BooleanField(
        required=False, help_text="e.g. Parkinson's medicines, insulin"
    )
    tolerance_minutes = forms.IntegerField(
        min_value=1, max_value=120, initial=15, label="Time-sensitive tolerance (minutes)"
    )
    allergy_override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Allergy override reason (seniors only)",
        help_text="Only if an allergy warning was shown and the prescriber confirmed.",
    )

    field_order = [
        "medicine",
        "dose",
        "dose_max",
        "dose_unit",
        "route",
        "is_prn",
        "prn_min_interval_minutes",
        "prn_max_doses_24h",
        "days",
        "rounds",
        "times",
        "every_n",
        "weekdays",
        "month_day",
        "cycle_on",
        "cycle_off",
        "dose_rule",
        "taper",
        "start_date",
        "end_date",
        "review_date",
        "indication",
        "instructions",
        "prescriber",
        "source",
        "source_detail",
        "time_sensitive",
        "tolerance_minutes",
        "allergy_override_reason",
    ]

    def __init__(self, *args, home: CareHome, query: str = "", **kwargs):
        super().__init__(*args, home=home, **kwargs)
        self.fields["medicine"].queryset = Medicine.objects.filter(active=True)
        self.fields["medicine"].choices = [("", "Choose a medicine")] + [
            (m.pk, m.name) for m in medicines_search(query)
        ]

    def line_kwargs(self) -> dict:
        data = self.cleaned_data
        keys = (
            "medicine",
            "dose",
            "dose_max",
            "dose_unit",
            "route",
            "start_date",
            "end_date",
            "review_date",
            "indication",
            "instructions",
            "prescriber",
            "source",
            "source_detail",
            "time_sensitive",
            "tolerance_minutes",
            "allergy_override_reason",
            "prn_min_interval_minutes",
            "prn_max_doses_24h",
        )
        kwargs = {k: data.get(k) for k in keys}
        kwargs["tolerance_minutes"] = kwargs["tolerance_minutes"] or 15
        for k in ("indication", "instructions", "source_detail", "allergy_override_reason"):
            kwargs[k] = kwargs[k] or ""
        kwargs["is_prn"] = bool(data.get("is_prn"))
        kwargs["schedule"] = None if kwargs["is_prn"] else self.schedule_input()
        kwargs["idempotency_key"] = data.get("idempotency_key")
        kwargs["sites"] = data.get("sites", [])
        return kwargs

    # R-MAR-17: the body map's sites are drawn by the page (the diagram and a checkbox and an
    # instructions field per site, templates/medications/partials/body_map_line_form.html),
    # not by crispy, and read here.
    def _posted_sites(self) -> tuple[list[str], dict[str, str]]:
        if not self.is_bound:
            return [], {}
        codes = [c for c in self.data.getlist("sites") if c]
        notes = {s.code: self.data.get(f"site_{s.code}", "") for s in bodymap.SITES}
        return codes, notes

    def clean(self):
        cleaned = super().clean()
        codes, notes = self._posted_sites()
        unknown = [c for c in codes if c not in bodymap.BY_CODE]
        if unknown:
            self.add_error(
                None,
                f"{unknown[0][:40]!r} is not a site on the body map: choose the sites on the "
                "diagram.",
            )
        too_long = [c for c, text in notes.items() if len(text) > 200]
        if too_long:
            self.add_error(
                None,
                f"The instructions for {bodymap.label(too_long[0])} are longer than 200 "
                "characters.",
            )
        cleaned["sites"] = [SiteInput(c, notes.get(c, "")) for c in codes if c in bodymap.BY_CODE]
        return cleaned

    def body_map_rows(self) -> list[dict]:
        codes, notes = self._posted_sites()
        return [
            {"site": s, "checked": s.code in codes, "instructions": notes.get(s.code, "")}
            for s in bodymap.SITES
        ]

    def body_map_regions(self) -> list[bodymap.Region]:
        return bodymap.regions({}, set(self._posted_sites()[0]))


class ScheduleChangeForm(IdempotencyKeyMixin, ScheduleFields):
    effective_from = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: as soon as it is checked. Never in the past.",
    )


class CheckForm(IdempotencyKeyMixin):
    confirm = forms.BooleanField(
        label="I have checked this line against the prescription source: medicine, "
        "strength, dose, route, times and dates.",
    )


class StopForm(IdempotencyKeyMixin):
    reason = forms.CharField(max_length=300)
    authorised_by = forms.CharField(
        max_length=120, help_text="e.g. Dr Shah (GP), by phone at 10:40"
    )


class PrnProtocolForm(IdempotencyKeyMixin):
    indication = forms.CharField(max_length=200)
    dose_guidance = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Dose, and how to choose within a range"
    )
    min_interval_minutes = forms.IntegerField(min_value=1, label="Minimum minutes between doses")
    max_doses_24h = forms.IntegerField(min_value=1, label="Maximum doses in 24 hours")
    signs = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Signs to look for")
    can_ask = forms.ChoiceField(choices=CanAsk.choices, label="Can the resident ask for it?")
    alternatives = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Non-drug alternatives to try first"
    )
    contact_prescriber = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="When to contact the prescriber"
    )
    review_date = forms.DateField(widget=DATE)


class CovertPlanForm(IdempotencyKeyMixin):
    past_dates = ("capacity_assessed_on", "decided_on")
    capacity_assessment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Mental capacity assessment"
    )
    capacity_assessed_on = forms.DateField(widget=DATE)
    best_interests_decision = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    best_interests_participants = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Who took part in the decision"
    )
    decided_on = forms.DateField(widget=DATE)
    pharmacist_advice = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Pharmacist advice on how to give it"
    )
    pharmacist = forms.CharField(max_length=120)
    review_date = forms.DateField(widget=DATE)


class SelfAdminForm(IdempotencyKeyMixin):
    has_capacity = forms.BooleanField(
        required=False, label="Understands the medicine and when to take it"
    )
    dexterity_ok = forms.BooleanField(
        required=False, label="Can open and use the packaging or device"
    )
    storage_ok = forms.BooleanField(required=False, label="Has lockable storage in their room")
    low_risk_to_others = forms.BooleanField(required=False, label="Risk to others is low")
    self_administers = forms.BooleanField(
        required=False, label="Outcome: resident self-administers"
    )
    review_date = forms.DateField(widget=DATE)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class VariableDoseForm(IdempotencyKeyMixin):
    """R-RX-3: the dose for a day, with the INR it is based on and who advised it."""

    day = forms.DateField(widget=DATE)
    dose = forms.DecimalField(min_value=Decimal(0), max_digits=8, decimal_places=3)
    inr = forms.DecimalField(
        label="INR result", max_digits=4, decimal_places=1, help_text="Between 0.5 and 15"
    )
    inr_date = forms.DateField(label="Date of the INR test", widget=DATE)
    advised_by = forms.CharField(
        label="Who advised this dose",
        max_length=160,
        help_text="Name and role, e.g. 'J Patel, anticoagulation clinic nurse'",
    )
    note = forms.CharField(max_length=200, required=False)


class HomelyAuthorisationForm(IdempotencyKeyMixin):
    """R-MAR-11: the resident's GP or pharmacist authorised a remedy from the home's list."""

    remedy = forms.ModelChoiceField(queryset=None, label="Remedy (the home's approved list)")
    authorised_by_name = forms.CharField(label="Name of the GP or pharmacist", max_length=120)
    authorised_by_role = forms.ChoiceField(label="Their role", choices=AuthoriserRole.choices)
    authorised_on = forms.DateField(label="Date they authorised it", widget=DATE)
    review_date = forms.DateField(label="Review date", widget=DATE)
    exclusions = forms.CharField(
        label="Exclusions (when not to give it), or 'None'",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
    )

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["remedy"].queryset = HomelyRemedy.objects.filter(
            home=home, active=True
        ).select_related("medicine")


class WithdrawForm(Form):
    reason = forms.CharField(label="Why is it withdrawn?", max_length=300)


class LineRestartForm(Form):
    """A senior's decision on one held line after a return or readmission (R-RES-6)."""

    line = forms.ModelChoiceField(queryset=None, label="Medicine")
    decision = forms.ChoiceField(
        choices=RestartDecision.choices, widget=forms.RadioSelect, label="Decision"
    )
    note = forms.CharField(
        required=False,
        max_length=300,
        label="What changed and why",
        help_text="Needed when changed or stopped, e.g. 'dose reduced on the discharge letter'.",
    )
    authorised_by = forms.CharField(
        required=False, max_length=120, label="Authorised by (changed or stopped)"
    )

    def __init__(self, *args, resident, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from ..models import PrescriptionLine

        ids = [line.pk for line, _ in lines_held(resident)]
        self.fields["line"].queryset = PrescriptionLine.objects.filter(pk__in=ids).select_related(
            "medicine"
        )
