"""Forms of the staff and home settings screens (R-ORG-6, R-ORG-5): validate and convert; the
rules live in `emar.services`."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator

from .forms import Form, IdempotencyKeyMixin
from .models import CodeCategory, Role, Scanning
from .services import DOSE_WINDOW_RANGE

STAFF_ROLE_CHOICES = [
    (Role.CARER, Role.CARER.label),
    (Role.SENIOR, Role.SENIOR.label),
    (Role.MANAGER, Role.MANAGER.label),
]


class PersonAddForm(IdempotencyKeyMixin):
    """A new person on the staff: their account and role in this home."""

    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="What they type to sign in: letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocapitalize": "none", "autocomplete": "off"}),
    )
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(required=False, help_text="For password resets and notifications.")
    password = forms.CharField(
        label="Initial password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Tell them in person. They must choose their own at their first sign-in.",
    )
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)


class RoleForm(IdempotencyKeyMixin):
    """A new role for a person of this home; the old one ends (history is kept)."""

    role = forms.ChoiceField(
        choices=STAFF_ROLE_CHOICES,
        label="New role",
        widget=forms.Select(attrs={"class": "form-select w-auto"}),
    )


class RoundForm(IdempotencyKeyMixin):
    name = forms.CharField(max_length=50, label="Round name")
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))


def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(
        n for n in zoneinfo.available_timezones() if "/" in n and not n.startswith("Etc/")
    )
    return [(n, n.replace("_", " ")) for n in names]


class HomeSettingsForm(Form):
    dose_window_minutes = forms.IntegerField(
        label="Dose window (minutes either side of the time)",
        min_value=DOSE_WINDOW_RANGE[0],
        max_value=DOSE_WINDOW_RANGE[1],
        help_text="Between {} and {} minutes; 60 is usual.".format(*DOSE_WINDOW_RANGE),
    )
    timezone = forms.ChoiceField(choices=timezone_choices, help_text="Usually Europe/London.")


class ScanningForm(Form):
    scanning = forms.ChoiceField(
        choices=Scanning.choices,
        widget=forms.RadioSelect,
        label="Barcode scanning at the round",
        help_text="Scanning checks that the pack in hand is the medicine on the line (R-SCAN-1).",
    )


class CodeForm(IdempotencyKeyMixin):
    code = forms.RegexField(
        regex=r"^\s*[A-Za-z0-9]{1,2}\s*$",
        max_length=4,
        error_messages={"invalid": "A code is one or two letters or digits, e.g. T."},
    )
    label = forms.CharField(max_length=100, label="Meaning")
    category = forms.ChoiceField(
        choices=CodeCategory.choices, help_text="How audits count it (R-MAR-6)."
    )
    note_required = forms.BooleanField(required=False, label="A note is required")
