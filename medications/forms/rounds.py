"""Forms of the round screen: validate and convert; the rules live in the services."""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms
from django.utils import timezone

from emar.forms import Form
from emar.models import NonAdministrationCode, User
from emar.witness import WitnessRefused, witness_authenticate

from ..bodymap import SITE_CHOICES
from ..models import BODY_SITES, LATE_REASON_QUEUED, Adviser, Effectiveness, Outcome


def authenticate_on_device(
    request, username: str, secret: str, *, home=None, who: str = "witness"
) -> User:
    """A second person confirms on the same device with their own password or PIN (R-MAR-9,
    R-SEC-2). Wrong attempts are throttled per device and person, apart from that person's
    sign-in lockout (R-SEC-6); `WitnessRefused` says how many tries are left."""
    return witness_authenticate(request, username=username, secret=secret, home=home, who=who)


def most_recent_past(t: dt.time, *, now: dt.datetime, tz) -> dt.datetime:
    """The most recent moment, up to now, whose local clock showed `t` (R-MAR-3): a 22:00 dose
    recorded at 00:30 with "22:10" keeps 22:10 of the day before. On the night the clocks go
    back, a repeated time means its first occurrence."""
    local_now = now.astimezone(tz)
    candidate = dt.datetime.combine(local_now.date(), t, tzinfo=tz)
    if candidate.astimezone(dt.UTC) > now.astimezone(dt.UTC) + dt.timedelta(minutes=1):
        candidate = dt.datetime.combine(local_now.date() - dt.timedelta(days=1), t, tzinfo=tz)
    return candidate


class SecondSeniorMixin(Form):
    """A second, different senior or nurse confirms on this device with their own username
    and password or PIN: a PRN override (R-MAR-8), an allergy match (R-MAR-16), a homely remedy
    override (R-MAR-11). The service (`services.second_senior_confirm`) checks who it is."""

    second_username = forms.CharField(
        required=False, max_length=150, label="Second senior or nurse: username"
    )
    second_password = forms.CharField(
        required=False,
        max_length=128,
        label="Second senior or nurse: password or PIN",
        widget=forms.PasswordInput(render_value=False),
    )

    def second_senior_confirm(self, request) -> User | None:
        username = self.cleaned_data.get("second_username", "").strip()
        secret = self.cleaned_data.get("second_password", "")
        if not username and not secret:
            return None
        if not username or not secret:
            self.add_error(
                "second_password", "The second senior enters their username and password or PIN."
            )
            return None
        try:
            return authenticate_on_device(
                request, username, secret, home=getattr(self, "home", None), who="second senior"
            )
        except WitnessRefused as e:
            self.add_error("second_password", e.message)
            return None


class PrnOverrideMixin(Form):
    """The clinical advice behind a PRN override (R-MAR-8)."""

    override_reason = forms.CharField(
        required=False, max_length=500, label="Override: what the adviser said"
    )
    advised_by_role = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *Adviser.choices],
        label="Override: who advised",
    )
    adviser_name = forms.CharField(required=False, max_length=120, label="Override: adviser's name")
    advised_time = forms.TimeField(
        required=False,
        label="Override: time of the advice",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )

    def override_kwargs(self, home) -> dict:
        data = self.cleaned_data
        t = data.get("advised_time")
        return {
            "prn_override_reason": data.get("override_reason", ""),
            "prn_advised_by_role": data.get("advised_by_role", ""),
            "prn_adviser_name": data.get("adviser_name", ""),
            "prn_advised_at": (
                most_recent_past(t, now=timezone.now(), tz=home.tz) if t is not None else None
            ),
        }


class WitnessMixin(Form):
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
        try:
            return authenticate_on_device(
                request, username, password, home=getattr(self, "home", None)
            )
        except WitnessRefused as e:
            self.add_error("witness_password", e.message)
            return None


RECORD_OUTCOMES = [(Outcome.GIVEN, "Given"), (Outcome.NOT_GIVEN, "Not given")]


class ScanMixin(Form):
    """The pack's barcode, checked against the line's product before "Given" (R-SCAN-1)."""

    scan = forms.CharField(required=False, max_length=200, label="Scan the pack")
    no_scan_reason = forms.CharField(
        required=False, max_length=300, label="No scan: why (checked by eye)"
    )

    def scan_kwargs(self) -> dict[str, str]:
        return {
            "scan": self.cleaned_data.get("scan", ""),
            "no_scan_reason": self.cleaned_data.get("no_scan_reason", ""),
        }


class DoseForm(ScanMixin, SecondSeniorMixin, WitnessMixin):
    """One outcome for one scheduled dose."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(choices=RECORD_OUTCOMES)
    quantity = forms.DecimalField(required=False, max_digits=8, decimal_places=3)
    quantity_reason = forms.CharField(
        required=False, max_length=500, label="Why a different amount"
    )
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
    sites = forms.MultipleChoiceField(  # R-MAR-17: the body map's sites applied
        choices=SITE_CHOICES,
        required=False,
        label="Sites applied",
        error_messages={"invalid_choice": "%(value)s is not a site on the body map."},
    )
    covert = forms.BooleanField(required=False, label="Given covertly (plan attached)")
    # A record saved on the tablet without a connection (R-OFF-1): the time of the tap, and who
    # tapped; sent later, it is still checked by every rule, as a late entry once its window
    # has closed (static/emar/offline-queue.js).
    queued_at = forms.DateTimeField(required=False, widget=forms.HiddenInput)
    queued_by = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home
        self.fields["code"].queryset = NonAdministrationCode.objects.filter(home=home, active=True)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("queued_at") is not None and not (data.get("late_reason") or "").strip():
            data["late_reason"] = LATE_REASON_QUEUED  # kept only if it arrives late
        return data

    def administered_at(self) -> dt.datetime | None:
        """The time given as the most recent past moment with that clock time (R-MAR-3), or
        the tap's time of a record queued offline (R-OFF-1)."""
        if (queued := self.cleaned_data.get("queued_at")) is not None:
            return queued
        t = self.cleaned_data.get("given_time")
        if t is None:
            return None
        return most_recent_past(t, now=timezone.now(), tz=self.home.tz)


def new_key() -> str:
    return str(uuid.uuid4())


class PrnForm(ScanMixin, PrnOverrideMixin, SecondSeniorMixin, WitnessMixin):
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    prn_reason = forms.CharField(label="Why is it needed now?", max_length=500)
    quantity = forms.DecimalField(max_digits=8, decimal_places=3)
    quantity_reason = forms.CharField(
        required=False, max_length=500, label="Why a different amount"
    )
    given_time = forms.TimeField(
        required=False,
        label="Time given (if earlier)",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    body_site = forms.ChoiceField(
        choices=[("", "—"), *[(s, s) for s in BODY_SITES]],
        required=False,
        label="Where it was applied",
    )
    old_patch_removed = forms.BooleanField(required=False, label="Old patch removed")
    sites = forms.MultipleChoiceField(  # R-MAR-17: the body map's sites applied
        choices=SITE_CHOICES,
        required=False,
        label="Sites applied",
        error_messages={"invalid_choice": "%(value)s is not a site on the body map."},
    )

    def __init__(self, *args, home, line=None, last_site=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home
        # Fields the page leaves out for this line still report their errors (R-REL-1).
        self.fields["sites"].widget = forms.MultipleHiddenInput()  # drawn as the body map
        if line is not None and not line.needs_site:
            self.hide("body_site")
        if line is not None and line.is_patch and last_site:
            self.fields["old_patch_removed"].label = f"Old patch ({last_site}) removed"
        else:
            self.hide("old_patch_removed")
        if line is not None and not line.needs_witness:
            self.hide("witness_username", "witness_password")

    administered_at = DoseForm.administered_at


class FollowUpForm(Form):
    effectiveness = forms.ChoiceField(choices=Effectiveness.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class CorrectionForm(PrnOverrideMixin, SecondSeniorMixin, WitnessMixin):
    """R-MAR-4: what really happened — outcome, code, amount, time — or "recorded in error"."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(
        choices=[
            (Outcome.GIVEN, "Given"),
            (Outcome.NOT_GIVEN, "Not given"),
            (Outcome.IN_ERROR, "Recorded in error (void this record)"),
        ],
        label="What really happened",
        widget=forms.RadioSelect,
    )
    quantity = forms.DecimalField(required=False, max_digits=8, decimal_places=3, label="Amount")
    quantity_reason = forms.CharField(
        required=False, max_length=500, label="Why a different amount"
    )
    code = forms.ModelChoiceField(
        queryset=NonAdministrationCode.objects.none(), required=False, label="Reason code"
    )
    given_time = forms.TimeField(
        required=False,
        label="Time it really happened (leave empty to keep)",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    note = forms.CharField(required=False, max_length=1000)
    reason = forms.CharField(label="What was wrong with the record", max_length=1000)

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home
        self.fields["code"].queryset = NonAdministrationCode.objects.filter(home=home, active=True)

    administered_at = DoseForm.administered_at


class HomelyRemedyForm(SecondSeniorMixin, Form):
    """R-MAR-11: a homely remedy, with the second senior's override when needed."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    remedy = forms.ModelChoiceField(queryset=None, label="Remedy (the home's approved list)")
    quantity = forms.DecimalField(min_value=0, max_digits=8, decimal_places=3)
    reason = forms.CharField(max_length=500, label="Why is it given?")
    override_reason = forms.CharField(
        required=False, max_length=500, label="Senior's reason it is safe to give"
    )

    def __init__(self, *args, home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from ..models import HomelyRemedy

        self.fields["remedy"].queryset = HomelyRemedy.objects.filter(
            home=home, active=True
        ).select_related("medicine")
