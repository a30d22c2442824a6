"""Forms for stock, the CD register and temperatures: validate and convert; the rules live in
medications.services.stock."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from emar.forms import Form, IdempotencyKeyMixin

from ..models import (
    HomelyRemedy,
    LineStatus,
    LocationKind,
    MovementKind,
    PrescriptionLine,
    StorageLocation,
)
from .rounds import WitnessMixin

QTY = {"max_digits": 9, "decimal_places": 3}
TEMP = {"max_digits": 4, "decimal_places": 1, "min_value": -30, "max_value": 60}


def _local_datetime(home, day: dt.date | None) -> dt.datetime | None:
    """A date entered for an event: now when it is today, else midday of that day."""
    if day is None:
        return None
    if day == timezone.now().astimezone(home.tz).date():
        return None
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=home.tz)


class ReceiveForm(IdempotencyKeyMixin, WitnessMixin):
    past_dates = ("received_on",)
    # R-SCAN-1: the pack's barcode fills batch and expiry and links its GTIN to the product;
    # drawn by the `scan_field` template tag (medications/templatetags/mar.py), not by crispy.
    scan = forms.CharField(required=False, max_length=200, label="Scan the pack")
    carried_forward = forms.BooleanField(
        required=False, label="Carried forward from the last cycle (not a new delivery)"
    )
    quantity = forms.DecimalField(min_value=0, **QTY)
    received_on = forms.DateField(
        required=False, label="Date received", widget=forms.DateInput(attrs={"type": "date"})
    )
    pharmacy = forms.CharField(required=False, max_length=200, label="Received from (pharmacy)")
    batch = forms.CharField(required=False, max_length=60)
    expiry = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(required=False, max_length=500)

    def at(self, home) -> dt.datetime | None:
        return _local_datetime(home, self.cleaned_data.get("received_on"))


class RelinkForm(Form):
    """A wrong barcode link retired by a new entry (R-SCAN-1): the senior says why."""

    gtin = forms.RegexField(regex=r"^[0-9]{8,14}$", max_length=14, widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=300, label="Why the earlier link was wrong (checked against the pack)"
    )


class DisposeForm(IdempotencyKeyMixin, WitnessMixin):
    past_dates = ("on",)
    kind = forms.ChoiceField(
        choices=[
            (MovementKind.RETURNED, "Returned to the pharmacy"),
            (MovementKind.DESTROYED, "Destroyed in the home (e.g. CD denaturing kit)"),
        ]
    )
    quantity = forms.DecimalField(min_value=0, **QTY)
    on = forms.DateField(
        required=False, label="Date", widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(max_length=500)
    destination = forms.CharField(
        required=False, max_length=200, label="Returned to / destroyed how"
    )
    receipt_ref = forms.CharField(
        required=False, max_length=100, label="Pharmacy receipt reference"
    )

    def at(self, home) -> dt.datetime | None:
        return _local_datetime(home, self.cleaned_data.get("on"))


class CheckForm(IdempotencyKeyMixin, WitnessMixin):
    counted = forms.DecimalField(min_value=0, label="Number counted", **QTY)
    note = forms.CharField(required=False, max_length=500)
    theft_suspected = forms.BooleanField(required=False, label="Theft or diversion is suspected")


class CorrectForm(IdempotencyKeyMixin, WitnessMixin):
    change = forms.DecimalField(label="Out by (+ more, − less)", **QTY)
    reason = forms.CharField(max_length=500, label="What was wrong with the entry")


class LocationForm(Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=LocationKind.choices)


class TemperatureForm(IdempotencyKeyMixin):
    location = forms.ModelChoiceField(queryset=StorageLocation.objects.none())
    current = forms.DecimalField(label="Current °C", **TEMP)
    minimum = forms.DecimalField(label="Minimum °C", **TEMP)
    maximum = forms.DecimalField(label="Maximum °C", **TEMP)
    reset_confirmed = forms.BooleanField(
        required=False, label="I reset the thermometer's minimum and maximum"
    )
    action_taken = forms.CharField(
        required=False,
        max_length=1000,
        label="Action taken (needed when out of range)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = StorageLocation.objects.filter(home=home, active=True)


class HomelyReceiveForm(IdempotencyKeyMixin):
    """Book in the home's own supply of a homely remedy (R-MAR-11)."""

    remedy = forms.ModelChoiceField(queryset=HomelyRemedy.objects.none(), label="Homely remedy")
    quantity = forms.DecimalField(min_value=0, **QTY)
    note = forms.CharField(required=False, max_length=500, help_text="e.g. supplier and batch")

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["remedy"].queryset = HomelyRemedy.objects.filter(
            home=home, active=True
        ).select_related("medicine")


class TransferForm(IdempotencyKeyMixin, WitnessMixin):
    """Move a replaced line's whole balance to the new line of the same product (R-STK-8)."""

    to_line = forms.ModelChoiceField(
        queryset=PrescriptionLine.objects.none(), label="New line for the same medicine"
    )

    def __init__(self, *args, line: PrescriptionLine, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_line"].queryset = (
            PrescriptionLine.objects.filter(
                resident_id=line.resident_id, medicine_id=line.medicine_id
            )
            .exclude(pk=line.pk)
            .exclude(status=LineStatus.STOPPED)
            .select_related("medicine")
        )
        self.fields["to_line"].label_from_instance = lambda ln: (
            f"{ln.medicine.name}: {ln.dose_text} (from {ln.start_date:%d %b %Y})"
        )

    @property
    def has_choices(self) -> bool:
        return self.fields["to_line"].queryset.exists()
