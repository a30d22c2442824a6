"""Forms of the pharmacy import check (R-RX-12)."""

from __future__ import annotations

from django import forms

from emar.forms import IdempotencyKeyMixin


class ImportAcceptForm(IdempotencyKeyMixin):
    confirm = forms.BooleanField(
        label="I have checked the pharmacy's line against the resident's current line and the "
        "prescription: medicine, strength, dose, route, times and dates."
    )
    allergy_override_reason = forms.CharField(
        max_length=500,
        required=False,
        label="Allergy override reason (only when the line matches an allergy)",
    )


class ImportRejectForm(IdempotencyKeyMixin):
    reason = forms.CharField(max_length=300, label="Why is it rejected?")
