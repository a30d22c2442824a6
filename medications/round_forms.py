"""Forms of the round screen: validate and convert; the rules live in the services."""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms
from django.contrib.auth import authenticate
from django.utils import timezone

from emar.models import NonAdministrationCode, User

from .models import BODY_SITES, Effectiveness, Outcome


class WitnessMixin(forms.Form):
    witness_username = forms.CharField(required=False, label="Witness username")
    witness_password = forms.CharField(
        required=False, label="Witness password", widget=forms.PasswordInput(render_value=False)
    )

    def clean_witness(self, request) -> User | None:
        """R-MAR-9: the witness confirms with their own password on this device."""
        username = self.cleaned_data.get("witness_username", "").strip()
        password = self.cleaned_data.get("witness_password", "")
        if not username and not password:
            return None
        if not username or not password:
            self.add_error("witness_password", "The witness enters their username and password.")
            return None
        witness = authenticate(request, username=username, password=password)
        if witness is None:
            self.add_error("witness_password", "The witness username or password is wrong.")
        return witness


class DoseForm(WitnessMixin):
    """One outcome for one scheduled dose."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(choices=Outcome.choices)
    quantity = forms.DecimalField(required=False, min_value=0, max_digits=8, decimal_places=3)
    code = forms.ModelChoiceField(queryset=NonAdministrationCode.objects.none(), required=False)
    note = forms.CharField(required=False, max_length=1000)
    late_reason = forms.CharField(required=False, max_length=500, label="Why recorded late")
    given_time = forms.TimeField(
        required=False,
        label="Time given (if earlier)",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    body_site = forms.ChoiceField(
        choices=[("", "—"), *[(s, s) for s in BODY_SITES]], required=False
    )
    old_patch_removed = forms.BooleanField(required=False, label="Old patch removed")
    covert = forms.BooleanField(required=False, label="Given covertly (plan attached)")

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home
        self.fields["code"].queryset = NonAdministrationCode.objects.filter(home=home, active=True)

    def administered_at(self) -> dt.datetime | None:
        t = self.cleaned_data.get("given_time")
        if t is None:
            return None
        today = timezone.now().astimezone(self.home.tz).date()
        return dt.datetime.combine(today, t, tzinfo=self.home.tz)


def new_key() -> str:
    return str(uuid.uuid4())


class PrnForm(WitnessMixin):
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    prn_reason = forms.CharField(label="Why is it needed now?", max_length=500)
    quantity = forms.DecimalField(min_value=0, max_digits=8, decimal_places=3)
    given_time = forms.TimeField(
        required=False,
        label="Time given (if earlier)",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    body_site = forms.ChoiceField(
        choices=[("", "—"), *[(s, s) for s in BODY_SITES]], required=False
    )
    override_username = forms.CharField(required=False, label="Senior overriding (username)")
    override_password = forms.CharField(
        required=False, label="Senior's password", widget=forms.PasswordInput(render_value=False)
    )
    override_reason = forms.CharField(required=False, max_length=500, label="Reason for override")

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home

    administered_at = DoseForm.administered_at

    def clean_override(self, request, by: User) -> User | None:
        """The override is the senior's: the recorder if senior, else the senior confirms."""
        reason = self.cleaned_data.get("override_reason", "").strip()
        username = self.cleaned_data.get("override_username", "").strip()
        if not reason and not username:
            return None
        if not username or username == by.username:
            return by
        senior = authenticate(
            request, username=username, password=self.cleaned_data.get("override_password", "")
        )
        if senior is None:
            self.add_error("override_password", "The senior's username or password is wrong.")
        return senior


class FollowUpForm(forms.Form):
    effectiveness = forms.ChoiceField(choices=Effectiveness.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class CorrectionForm(WitnessMixin):
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(choices=Outcome.choices, label="What really happened")
    quantity = forms.DecimalField(required=False, min_value=0, max_digits=8, decimal_places=3)
    code = forms.ModelChoiceField(queryset=NonAdministrationCode.objects.none(), required=False)
    note = forms.CharField(required=False, max_length=1000)
    reason = forms.CharField(label="What was wrong with the record", max_length=1000)

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].queryset = NonAdministrationCode.objects.filter(home=home, active=True)


def authenticate_second_senior(request, *, username: str, password: str) -> User | None:
    """A second senior confirms with their own username and password or PIN on this device
    (the same `authenticate` path as the CD witness, R-MAR-9, counted by the lockout). The
    service decides whether they may (a senior, not the giver)."""
    return authenticate(request, username=username.strip(), password=password)


class HomelyRemedyForm(forms.Form):
    """R-MAR-11: a homely remedy, with the second senior's override when needed."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    remedy = forms.ModelChoiceField(queryset=None, label="Remedy (the home's approved list)")
    quantity = forms.DecimalField(min_value=0, max_digits=8, decimal_places=3)
    reason = forms.CharField(max_length=500, label="Why is it given?")
    override_username = forms.CharField(
        required=False, label="Second senior's username (only if asked below)"
    )
    override_password = forms.CharField(
        required=False,
        label="Second senior's password or PIN",
        widget=forms.PasswordInput(render_value=False),
    )
    override_reason = forms.CharField(
        required=False, max_length=500, label="Senior's reason it is safe to give"
    )

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from .models import HomelyRemedy

        self.fields["remedy"].queryset = HomelyRemedy.objects.filter(
            home=home, active=True
        ).select_related("medicine")

    def clean_override(self, request) -> User | None:
        username = self.cleaned_data.get("override_username", "").strip()
        password = self.cleaned_data.get("override_password", "")
        if not username and not password:
            return None
        if not username or not password:
            self.add_error(
                "override_password", "The second senior enters their username and password."
            )
            return None
        senior = authenticate_second_senior(request, username=username, password=password)
        if senior is None:
            self.add_error(
                "override_password", "The second senior's username or password is wrong."
            )
        return senior
