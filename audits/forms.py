"""Forms of the audits feature: validate and convert; the rules live in the services."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from emar.forms import TEXT_MAX, Form, IdempotencyKeyMixin, checked_text
from emar.models import LONG_TEXT_MAX, CareHome, User
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


class MonthField(forms.Field):
    """A calendar month typed as YYYY-MM, cleaned to its first day.

    Not a CharField: its length validator would run on the cleaned date and fail.
    """

    widget = forms.TextInput(attrs={"maxlength": 7, "inputmode": "numeric"})

    def to_python(self, value):
        value = str(value or "").strip()
        if not value:
            return None
        try:
            if len(value) != 7:
                raise ValueError
            return dt.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
        except ValueError:
            raise forms.ValidationError("Give the month as YYYY-MM, e.g. 2026-10.") from None

    def validate(self, value) -> None:
        super().validate(value)
        try:
            month_check(month=value, today=timezone.localdate())
        except PeriodError as e:
            raise forms.ValidationError(e.message) from None


class PrepareForm(Form):
    month = MonthField(label="Month")


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


class ActionUpdateForm(Form):
    status = forms.ChoiceField(choices=ActionStatus.choices)
    note = forms.CharField(required=False, max_length=2000)


class SignForm(Form):
    summary = forms.CharField(
        label="Summary and overall findings",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=LONG_TEXT_MAX,
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
        comment = checked_text(data.get(f"c{q.pk}") or "", limit=TEXT_MAX, what="A comment")
        if answer and answer not in Answer.values:
            raise forms.ValidationError(f"“{answer[:10]}” is not yes, no or n.a.")
        answers[q.pk] = (answer, comment)
    summary = data.get("summary")
    if summary is not None:
        summary = checked_text(summary, limit=LONG_TEXT_MAX, what="The summary")
    return answers, summary


class IncidentForm(IdempotencyKeyMixin):
    past_dates = ("occurred_at",)
    kind = forms.ChoiceField(choices=IncidentKind.choices, widget=forms.RadioSelect)
    stage = forms.ChoiceField(choices=Stage.choices)
    type = forms.ChoiceField(label="What went wrong", choices=IncidentType.choices)
    harm = forms.ChoiceField(label="Harm to the resident", choices=Harm.choices)
    occurred_at = forms.DateTimeField(
        label="When it happened", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    description = forms.CharField(
        label="What happened", widget=forms.Textarea(attrs={"rows": 4}), max_length=LONG_TEXT_MAX
    )
    immediate_action = forms.CharField(
        label="What was done at once (e.g. GP / 111 called, resident observed)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=LONG_TEXT_MAX,
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
        # Nothing is pre-ticked: an eye-drop error must not suspend oral competency by default.
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


class FollowUpForm(Form):
    past_dates = ("candour_done_on", "cqc_notified_on", "safeguarding_referred_on")
    candour_done_on = forms.DateField(label="Duty of candour met on", required=False, widget=DATE)
    cqc_notified_on = forms.DateField(label="CQC notified on", required=False, widget=DATE)
    safeguarding_referred_on = forms.DateField(
        label="Safeguarding referral on", required=False, widget=DATE
    )
    follow_up = forms.CharField(
        label="Investigation and learning",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=LONG_TEXT_MAX,
    )


class PeriodForm(Form):
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


class MarForm(Form):
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
