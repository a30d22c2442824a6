"""Forms of the resident record: validate and convert; the rules live in services."""

from __future__ import annotations

from django import forms

from emar.forms import Form, IdempotencyKeyMixin, ModelForm
from emar.models import CareHome, Unit

from .models import (
    AbsenceKind,
    AllergySeverity,
    AllergyStatus,
    DocumentKind,
    Reconciliation,
    ReconciliationReason,
    ReconciliationSource,
    Resident,
    normalise_nhs_number,
    validate_nhs_number,
)
from .services import LEAVING, PHOTO_MAX_BYTES

DATE = forms.DateInput(attrs={"type": "date"})


class NhsNumberField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "NHS number")
        kwargs.setdefault("help_text", "10 digits, e.g. 943 476 5919")
        super().__init__(**kwargs)

    def clean(self, value):
        value = normalise_nhs_number(super().clean(value) or "")
        if value:
            validate_nhs_number(value)
        return value


class PhotoField(forms.FileField):
    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if upload and getattr(upload, "size", 0) > PHOTO_MAX_BYTES:
            raise forms.ValidationError("The photo is larger than 5 MB.", code="photo_too_large")
        return upload


DETAIL_FIELDS = [
    "full_name",
    "preferred_name",
    "date_of_birth",
    "nhs_number",
    "gp_practice",
    "pharmacy",
    "weight_kg",
    "weight_date",
    "swallowing_needs",
    "communication_needs",
    "medicine_preferences",
]


class ResidentDetailsForm(ModelForm):
    past_dates = ("date_of_birth", "weight_date", "admitted_on")
    nhs_number = NhsNumberField()
    photo = PhotoField(
        required=False,
        help_text="JPEG, PNG or WebP, up to 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "user"}),
    )

    class Meta:
        model = Resident
        fields = DETAIL_FIELDS
        widgets = {
            "date_of_birth": DATE,
            "weight_date": DATE,
            "swallowing_needs": forms.Textarea(attrs={"rows": 2}),
            "communication_needs": forms.Textarea(attrs={"rows": 2}),
            "medicine_preferences": forms.Textarea(attrs={"rows": 3}),
        }

    def clean(self):
        data = super().clean()
        if bool(data.get("weight_kg")) != bool(data.get("weight_date")):
            raise forms.ValidationError("Give the weight together with the date it was taken.")
        return data

    def _post_clean(self):
        # Model validation (e.g. uniqueness) happens in the service, which knows the home.
        pass

    def details(self) -> dict:
        return {f: self.cleaned_data[f] for f in DETAIL_FIELDS}


class AdmitForm(IdempotencyKeyMixin, ResidentDetailsForm):
    unit = forms.ModelChoiceField(queryset=Unit.objects.none())
    room = forms.CharField(max_length=20)
    admitted_on = forms.DateField(widget=DATE)
    allergy_status = forms.ChoiceField(
        choices=[
            (AllergyStatus.UNKNOWN, "Not known yet"),
            (AllergyStatus.NONE_KNOWN, "No known allergies"),
        ],
        help_text="To record allergies, admit first, then add each allergy.",
    )

    def __init__(self, *args, home: CareHome, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.filter(home=home)


class AllergyForm(IdempotencyKeyMixin):
    substance = forms.CharField(max_length=120)
    reaction = forms.CharField(max_length=200, required=False)
    severity = forms.ChoiceField(choices=AllergySeverity.choices, initial=AllergySeverity.UNKNOWN)
    reason = forms.CharField(
        max_length=300,
        label="Where this comes from",
        help_text="E.g. GP record, hospital discharge letter, reaction seen here (R-RES-2).",
    )


class AllergyStatusForm(Form):
    status = forms.ChoiceField(
        choices=[
            (AllergyStatus.NONE_KNOWN, "No known allergies"),
            (AllergyStatus.UNKNOWN, "Unknown"),
        ]
    )
    reason = forms.CharField(
        max_length=300,
        label="Reason for the change",
        help_text="E.g. confirmed with the GP surgery; or why it is no longer known.",
    )


class AllergyRemoveForm(Form):
    reason = forms.CharField(max_length=300)
    new_status = forms.ChoiceField(
        required=False,
        label="With no allergies left, the status becomes",
        choices=[
            ("", "—"),
            (AllergyStatus.NONE_KNOWN, "No known allergies"),
            (AllergyStatus.UNKNOWN, "Unknown: a senior must find out"),
        ],
    )


class MoveForm(Form):
    unit = forms.ModelChoiceField(queryset=Unit.objects.none())
    room = forms.CharField(max_length=20)
    note = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, home: CareHome, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.filter(home=home)


class LeaveForm(Form):
    past_dates = ("on",)
    status = forms.ChoiceField(choices=[(s.value, s.label) for s in LEAVING])
    on = forms.DateField(widget=DATE, label="Date")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ReconciliationForm(IdempotencyKeyMixin):
    past_dates = ("arrived_on",)
    reason = forms.ChoiceField(choices=ReconciliationReason.choices)
    arrived_on = forms.DateField(widget=DATE, label="Arrived (admission or return) on")
    sources = forms.MultipleChoiceField(
        choices=ReconciliationSource.choices, widget=forms.CheckboxSelectMultiple
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class DiscrepancyForm(IdempotencyKeyMixin):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    resolution = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Leave empty if not resolved yet.",
    )


class ResolveForm(Form):
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class ReviewForm(IdempotencyKeyMixin):
    past_dates = ("held_on",)
    held_on = forms.DateField(widget=DATE)
    participants = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="e.g. GP, pharmacist, resident, daughter",
    )
    outcome = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"})


def home_time(value, home: CareHome):
    """A time typed on the home's clock (the picker sends wall-clock digits) as an aware
    datetime in the home's timezone (R-ORG-5)."""
    from django.utils import timezone

    return timezone.make_aware(value.replace(tzinfo=None), home.tz)


class AwayForm(IdempotencyKeyMixin):
    """Mark a resident away (R-RES-6)."""

    past_dates = ("started_at",)
    kind = forms.ChoiceField(choices=AbsenceKind.choices, label="Where")
    started_at = forms.DateTimeField(widget=DATETIME, label="Left the home at")
    expected_return = forms.DateField(widget=DATE, label="Expected back on")
    note = forms.CharField(
        required=False, max_length=300, help_text="e.g. which hospital and ward, who to call."
    )


class ReturnForm(Form):
    """Record the return (R-RES-6): it starts a reconciliation (R-RES-3)."""

    past_dates = ("returned_at",)
    returned_at = forms.DateTimeField(widget=DATETIME, label="Came back at")
    sources = forms.MultipleChoiceField(
        choices=ReconciliationSource.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Sources to reconcile against",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ReadmitForm(Form):
    """Readmit a discharged or transferred resident to their own record (R-RES-6)."""

    past_dates = ("admitted_on",)
    admitted_on = forms.DateField(widget=DATE, label="Readmitted on")
    unit = forms.ModelChoiceField(queryset=Unit.objects.none())
    room = forms.CharField(max_length=20)
    note = forms.CharField(required=False, max_length=300)

    def __init__(self, *args, home: CareHome, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.filter(home=home).order_by("name")


class DocumentForm(IdempotencyKeyMixin):
    """Attach a PDF or image to the resident (R-RES-7). The type and size are checked by the
    service from the content; the browser's `accept` only helps people pick the right file."""

    kind = forms.ChoiceField(label="What is it?", choices=DocumentKind.choices)
    title = forms.CharField(
        max_length=200, help_text="e.g. 'Discharge letter, Royal Infirmary, 3 Nov 2026'"
    )
    upload = forms.FileField(
        label="File",
        help_text="A PDF, or a photo or scan as PNG or JPEG.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/png,image/jpeg"}),
    )
    reconciliation = forms.ModelChoiceField(
        queryset=Reconciliation.objects.none(),
        required=False,
        empty_label="Not a source of a reconciliation",
        label="Source of a reconciliation",
        help_text="Leave empty unless the document is a source of one of these.",
    )

    def __init__(self, *args, resident: Resident, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reconciliation"]
        field.queryset = resident.reconciliations.all()  # type: ignore[attr-defined]
        field.label_from_instance = lambda rec: (  # type: ignore[attr-defined]
            f"{rec.get_reason_display()}, {rec.arrived_on:%d %b %Y}"
        )


class DocumentWithdrawForm(Form):
    reason = forms.CharField(
        max_length=300, label="Why is it withdrawn?", help_text="e.g. 'Another resident's letter'"
    )
