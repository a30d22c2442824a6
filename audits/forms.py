"""Forms of the audits feature: validate and convert; the rules live in the services."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from emar.forms import IdempotencyKeyMixin
from emar.models import CareHome, User
from emar.periods import PeriodError, month_check, period_check
from medications.chart import CYCLE_DAYS, MAX_DAYS
from residents.models import Resident
from training.models import MedicineCategory
from training.selectors import staff_memberships

from .models import (
    ActionStatus,
    Answer,
    Audit,
    Harm,
    IncidentKind,
    IncidentType,
    Stage,
)
from .selectors import questions_for

DATE = forms.DateInput(attrs={"type": "date"})


class MonthField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value).strip()
        try:
            return dt.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
        except ValueError:
            raise forms.ValidationError("Give the month as YYYY-MM, e.g. 2026-10.") from None

    def validate(self, value) -> None:
        super().validate(value)
        try:
            month_check(month=value, today=timezone.localdate())
        except PeriodError as e:
            raise forms.ValidationError(e.message) from None


class PrepareForm(forms.Form):
    month = MonthField(label="Month", max_length=7)


def _staff_choices(home: CareHome):
    return User.objects.filter(pk__in=staff_memberships(home).values("user_id"))


class StaffChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


class StaffMultiple(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


class ActionForm(IdempotencyKeyMixin):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    owner = StaffChoice(queryset=User.objects.none())
    due_on = forms.DateField(label="Due by", widget=DATE)

    def __init__(self, *args, home: CareHome, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _staff_choices(home).order_by("last_name", "username")


class ActionUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=ActionStatus.choices)
    note = forms.CharField(required=False, max_length=2000)


class SignForm(forms.Form):
    summary = forms.CharField(
        label="Summary and overall findings",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        required=False,
    )
    confirm = forms.BooleanField(
        label="I have reviewed the metrics, checklist and actions; signing locks this audit."
    )


def checklist_answers(data, audit: Audit) -> tuple[dict[int, tuple[str, str]], str | None]:
    """Read `q<id>` (yes/no/na or blank) and `c<id>` (comment) for the audit's questions.
    Unknown answers are reported, not guessed."""
    answers: dict[int, tuple[str, str]] = {}
    for q in questions_for(audit):
        if f"q{q.pk}" not in data and f"c{q.pk}" not in data:
            continue
        answer = (data.get(f"q{q.pk}") or "").strip()
        comment = (data.get(f"c{q.pk}") or "")[:2000]
        if answer and answer not in Answer.values:
            raise forms.ValidationError(f"“{answer[:10]}” is not yes, no or n.a.")
        answers[q.pk] = (answer, comment)
    summary = data.get("summary")
    return answers, (summary[:5000] if summary is not None else None)


class IncidentForm(IdempotencyKeyMixin):
    kind = forms.ChoiceField(choices=IncidentKind.choices, widget=forms.RadioSelect)
    stage = forms.ChoiceField(choices=Stage.choices)
    type = forms.ChoiceField(label="What went wrong", choices=IncidentType.choices)
    harm = forms.ChoiceField(label="Harm to the resident", choices=Harm.choices)
    occurred_at = forms.DateTimeField(
        label="When it happened", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    description = forms.CharField(
        label="What happened", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
    )
    immediate_action = forms.CharField(
        label="What was done at once (e.g. GP / 111 called, resident observed)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )
    residents = forms.ModelMultipleChoiceField(
        label="Residents involved", queryset=Resident.objects.none(), required=False
    )
    staff = StaffMultiple(
        label="Staff involved (their competency is suspended until reassessed)",
        queryset=User.objects.none(),
        required=False,
    )
    suspend = forms.MultipleChoiceField(
        label="Competency to suspend for the staff named",
        choices=MedicineCategory.choices,
        initial=[MedicineCategory.ORAL.value],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    abuse_suspected = forms.BooleanField(
        label="Abuse or an allegation of abuse is involved", required=False
    )

    def __init__(self, *args, home: CareHome, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home
        self.fields["residents"].queryset = Resident.objects.current().filter(home=home)
        self.fields["staff"].queryset = _staff_choices(home).order_by("last_name", "username")

    def clean_occurred_at(self) -> dt.datetime:
        value = self.cleaned_data["occurred_at"]
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.home.tz)
        return value

    def clean(self):
        data = super().clean()
        if data.get("staff") and not data.get("suspend"):
            self.add_error("suspend", "Choose the competency to suspend for the staff named.")
        return data


class FollowUpForm(forms.Form):
    candour_done_on = forms.DateField(label="Duty of candour met on", required=False, widget=DATE)
    cqc_notified_on = forms.DateField(label="CQC notified on", required=False, widget=DATE)
    safeguarding_referred_on = forms.DateField(
        label="Safeguarding referral on", required=False, widget=DATE
    )
    follow_up = forms.CharField(
        label="Investigation and learning",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
    )


class PeriodForm(forms.Form):
    start = forms.DateField(widget=DATE)
    end = forms.DateField(widget=DATE)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end"):
            try:
                period_check(start=data["start"], end=data["end"], today=timezone.localdate())
            except PeriodError as e:
                raise forms.ValidationError(e.message) from None
        return data


class MarForm(forms.Form):
    resident = forms.ModelChoiceField(queryset=Resident.objects.none())
    start = forms.DateField(widget=DATE)
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, initial=CYCLE_DAYS)

    def __init__(self, *args, home: CareHome, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home
        self.fields["resident"].queryset = (
            Resident.objects.filter(home=home).select_related("unit").order_by("full_name")
        )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("days"):
            end = data["start"] + dt.timedelta(days=data["days"] - 1)
            try:
                period_check(start=data["start"], end=end, today=self.home.local_today())
            except PeriodError as e:
                raise forms.ValidationError(e.message) from None
        return data
