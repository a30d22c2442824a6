"""Forms of training and competency: validate and convert; the rules live in services."""

from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile

from emar.forms import Form, IdempotencyKeyMixin

from . import uploads
from .models import Course, MedicineCategory, Outcome

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class TrainingRecordForm(IdempotencyKeyMixin):
    """R-TRN-1: a completed course with its certificate."""

    past_dates = ("completed_on",)

    course = forms.ModelChoiceField(queryset=Course.objects.filter(active=True))
    completed_on = forms.DateField(label="Completed on", widget=DATE)
    provider = forms.CharField(
        max_length=200, required=False, help_text="Who delivered it, e.g. the pharmacy."
    )
    certificate = forms.FileField(
        required=False,
        help_text="PDF, PNG or JPEG, at most 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )

    def clean_certificate(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("certificate")
        if upload:
            uploads.check_upload(upload, allowed=uploads.CERTIFICATE_TYPES)
        return upload


class AssessmentForm(IdempotencyKeyMixin):
    """R-TRN-2: an observed competency assessment; the assessor is the signed-in user."""

    past_dates = ("assessed_on",)

    category = forms.ChoiceField(choices=MedicineCategory.choices, label="Kind of medicine")
    assessed_on = forms.DateField(label="Assessed on", widget=DATE)
    outcome = forms.ChoiceField(choices=Outcome.choices, widget=forms.RadioSelect)
    notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Needed when the outcome is not yet competent.",
    )


class SuspendForm(Form):
    """R-TRN-3: suspend competencies until reassessed."""

    categories = forms.MultipleChoiceField(
        choices=MedicineCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Competencies to suspend",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    incident_ref = forms.CharField(
        max_length=64, required=False, label="Incident reference (if any)"
    )


class PolicyForm(Form):
    """R-TRN-5: a new version of the home's medicines policy."""

    title = forms.CharField(max_length=200, initial="Medicines policy")
    version = forms.CharField(max_length=20, help_text="e.g. 3.1")
    review_on = forms.DateField(label="Next review on", widget=DATE)
    document = forms.FileField(
        help_text="PDF, at most 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf"}),
    )

    def clean_document(self) -> UploadedFile:
        upload = self.cleaned_data["document"]
        uploads.check_upload(upload, allowed=uploads.POLICY_TYPES)
        return upload
