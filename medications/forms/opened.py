"""Forms for opened medicines (R-STK-7): validate and convert; the rules live in
medications.services.opened."""

from __future__ import annotations

import datetime as dt

from django import forms

from emar.forms import IdempotencyKeyMixin

from ..models import OpenedEndKind
from .stock import _local_datetime


class OpenedForm(IdempotencyKeyMixin):
    past_dates = ("opened_on",)
    opened_on = forms.DateField(label="Date opened", widget=forms.DateInput(attrs={"type": "date"}))
    batch = forms.CharField(required=False, max_length=60, label="Batch (if known)")
    pack_expiry = forms.DateField(
        required=False,
        label="Expiry date on the pack (if known)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    note = forms.CharField(required=False, max_length=500)

    def at(self, home) -> dt.datetime | None:
        return _local_datetime(home, self.cleaned_data.get("opened_on"))


class OpenedEndForm(IdempotencyKeyMixin):
    kind = forms.ChoiceField(choices=OpenedEndKind.choices, label="What happened to the pack")
    note = forms.CharField(required=False, max_length=500)
