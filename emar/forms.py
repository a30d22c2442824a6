import datetime as dt
import uuid

from django import forms
from django.utils import timezone

from .models import User


class IdempotencyKeyMixin(forms.Form):
    """A hidden key made when the form is drawn; the create service stores one record per key,
    so a double tap or a resent request never books anything twice."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, required=False, initial=uuid.uuid4)


class InspectorGrantForm(forms.Form):
    """R-ORG-4: a manager grants an inspector read-only access to this home until a date."""

    username = forms.CharField(max_length=150, help_text="The inspector's eMAR username.")
    expires_on = forms.DateField(
        label="Access ends on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Access ends at the start of this day.",
    )

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError("There is no active account with that username.")
        return user

    def clean_expires_on(self) -> dt.date:
        value = self.cleaned_data["expires_on"]
        today = timezone.now().astimezone(self.home.tz).date()
        if value <= today:
            raise forms.ValidationError("The end date must be after today.")
        if value > today + dt.timedelta(days=366):
            raise forms.ValidationError("Inspector access can be granted for a year at most.")
        return value

    def expires_at(self) -> dt.datetime:
        day = self.cleaned_data["expires_on"]
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.home.tz)


class OneTimeCodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="6-digit code from your authenticator app",
        error_messages={"invalid": "Enter the 6 digits shown in your authenticator app."},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip()


class PinSwitchForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "autocomplete": "off"}),
    )
    pin = forms.RegexField(
        regex=r"^\d{4,6}$",
        label="PIN",
        error_messages={"invalid": "A PIN is 4 to 6 digits."},
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class PinSetForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    pin = forms.RegexField(
        regex=r"^\d{4,6}$",
        label="New PIN (4 to 6 digits)",
        error_messages={"invalid": "A PIN is 4 to 6 digits."},
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
