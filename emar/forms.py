"""Forms of the core, and the input bounds every form of the product inherits (R-REL-1)."""

import datetime as dt
import uuid

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core import validators
from django.core.exceptions import ValidationError
from django.forms.widgets import DateTimeBaseInput
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from .models import TEXT_MAX, User

# R-REL-1: every field has a sane bound, so hostile or mistaken input gets a message instead of
# a crash (an integer the database cannot hold, a date that overflows when shifted by a time
# zone) or a page that grows by a megabyte of text on every round.
# TEXT_MAX (emar.models): a note, need, preference, reason or comment (a textarea); the
# database holds the same bound.
LINE_MAX = 200  # a one-line answer
NUMBER_MAX = 100_000  # an integer with no bound of its own
EARLIEST_DATE = dt.date(1900, 1, 1)
YEARS_AHEAD = 10  # review, end, expiry and due dates


@deconstructible
class SaneDate:
    """A date (or the date of a date and time) from 1 Jan 1900 to YEARS_AHEAD years ahead,
    or up to today for what has already happened (births, admissions, training done)."""

    def __init__(self, *, past: bool = False) -> None:
        self.past = past

    def __call__(self, value: dt.date | dt.datetime) -> None:
        day = value.date() if isinstance(value, dt.datetime) else value
        if day < EARLIEST_DATE:
            raise ValidationError(
                "Check the year: dates before 1 Jan 1900 are not accepted.", code="date_too_early"
            )
        today = timezone.localdate()
        if self.past and day > today:
            raise ValidationError(
                "This date cannot be in the future: check the day and year.", code="date_future"
            )
        latest = today.replace(year=today.year + YEARS_AHEAD, day=min(today.day, 28))
        if day > latest:
            raise ValidationError(
                f"Check the year: dates after {latest:%-d %b %Y} are not accepted.",
                code="date_too_late",
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, SaneDate) and other.past == self.past


def bound_field(field: forms.Field, *, past: bool = False) -> None:
    """Give one form field the product's bounds unless it has its own (R-REL-1)."""
    if isinstance(field, forms.CharField) and type(field).to_python is forms.CharField.to_python:
        if field.max_length is None:
            limit = TEXT_MAX if isinstance(field.widget, forms.Textarea) else LINE_MAX
            field.max_length = limit
            field.validators.append(validators.MaxLengthValidator(limit))
            field.widget.attrs.setdefault("maxlength", str(limit))
    elif isinstance(field, forms.IntegerField) and not isinstance(field, forms.FloatField):
        if field.max_value is None:
            field.max_value = NUMBER_MAX
            field.validators.append(validators.MaxValueValidator(NUMBER_MAX))
        if field.min_value is None:
            field.min_value = -NUMBER_MAX
            field.validators.append(validators.MinValueValidator(-NUMBER_MAX))
    elif isinstance(field, forms.DateField | forms.DateTimeField):
        field.validators.append(SaneDate(past=past))
        _iso_for_browser_pickers(field.widget)


# What a browser's date and time pickers read and send (HTML's own formats): any other format,
# e.g. the British 02/12/2026, leaves the picker blank and a required date fails on submit.
BROWSER_FORMATS = {"date": "%Y-%m-%d", "datetime-local": "%Y-%m-%dT%H:%M", "time": "%H:%M"}


def _iso_for_browser_pickers(widget: forms.Widget) -> None:
    kind = widget.attrs.get("type") or getattr(widget, "input_type", "")
    if kind in BROWSER_FORMATS and isinstance(widget, DateTimeBaseInput):
        widget.format = BROWSER_FORMATS[kind]


def checked_text(value: str, *, limit: int, what: str = "This text") -> str:
    """Free text read without a form field (e.g. a checklist's comments): the same rules."""
    if "\x00" in value:
        raise ValidationError(
            f"{what} contains a hidden character that cannot be stored: retype it.",
            code="null_characters",
        )
    if len(value) > limit:
        raise ValidationError(
            f"{what} is longer than {limit:,} characters: shorten it.", code="too_long"
        )
    return value


STALE_FORM = "This page is out of date: reload it and try again."


def _unshown_error(name: str, field: forms.Field, message: str) -> str:
    """The error of a field the page does not show, in words a carer can act on."""
    if name == "idempotency_key":
        return STALE_FORM  # the hidden one-submission key: only a broken or old page lacks it
    return f"{field.label or name.replace('_', ' ').capitalize()}: {message}"


class InputBounds:
    """Mixed into every form of the product (see `Form` and `ModelForm`): text has a maximum
    length, integers a range, dates a sane range (`past_dates` name the fields that cannot be
    in the future), and errors of fields the page does not show (hidden inputs) are shown with
    the form's own errors instead of being swallowed."""

    past_dates: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            bound_field(field, past=name in self.past_dates)

    def hide(self, *names: str) -> None:
        """The page does not show these fields: their errors go with the form's own."""
        for name in names:
            self.fields[name].widget = forms.HiddenInput()

    def non_field_errors(self):
        errors = super().non_field_errors()
        unshown = [
            _unshown_error(name, field, message)
            for name, field in self.fields.items()
            if field.widget.is_hidden and name in self.errors
            for message in self.errors[name]
        ]
        if not unshown:
            return errors
        return self.error_class([*errors, *unshown], error_class="nonfield", renderer=self.renderer)


class Form(InputBounds, forms.Form):
    pass


class ModelForm(InputBounds, forms.ModelForm):
    pass


class SignInForm(InputBounds, AuthenticationForm):
    """Django's sign-in form with the username's length enforced on the server (Django only
    sets the input's maxlength), so an over-long name is a form error before the lockout
    counter stores it (R-SEC-2, R-REL-1)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.validators.append(validators.MaxLengthValidator(username.max_length or 150))


class IdempotencyKeyMixin(Form):
    """A hidden key made when the form is drawn; the create service stores one record per key,
    so a double tap or a resent request never books anything twice."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, required=False, initial=uuid.uuid4)


class InspectorGrantForm(Form):
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


class OneTimeCodeForm(Form):
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


class PinSwitchForm(Form):
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


class PinSetForm(Form):
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
