"""Records queued on a tablet without a connection (R-OFF-1, R-OFF-2, R-OFF-5, H-13).

Sending a queued dose is the round's own `dose_record` view; this is the one other thing the
tablet asks: to discard a refused queued record, with a reason, so that nothing is dropped
silently (static/emar/offline-queue.js). It answers JSON; the tablet shows the message."""

from __future__ import annotations

import json

from django import forms
from django.http import JsonResponse
from django.views.decorators.http import require_POST

from emar import permissions
from emar.forms import Form
from emar.permissions import Perm, requires
from emar.services import DomainError

from ..models import ScheduledDose
from ..services import offline_discard


class OfflineDiscardForm(Form):
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    tapped_at = forms.DateTimeField()
    outcome = forms.ChoiceField(choices=[("given", "Given"), ("not_given", "Not given")])
    reason = forms.CharField(max_length=500, label="Why discard it")
    refusal = forms.CharField(required=False, max_length=1000)
    payload = forms.CharField(required=False, max_length=8000)

    def clean_payload(self) -> dict:
        text = self.cleaned_data["payload"] or "{}"
        try:
            value = json.loads(text)
        except ValueError:
            raise forms.ValidationError("The saved record could not be read.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("The saved record could not be read.")
        return value


@require_POST
@requires(Perm.RECORD_DOSE)
def dose_offline_discard(request, dose_id: int):
    dose = permissions.scoped_get(
        request.user,
        Perm.RECORD_DOSE,
        ScheduledDose.objects.select_related("home"),
        pk=dose_id,
    )
    form = OfflineDiscardForm(request.POST)
    if not form.is_valid():
        message = " ".join(e for errors in form.errors.values() for e in errors)
        return JsonResponse({"error": message}, status=400)
    data = form.cleaned_data
    try:
        discard = offline_discard(
            dose=dose,
            by=request.user,
            idempotency_key=data["idempotency_key"],
            tapped_at=data["tapped_at"],
            outcome=data["outcome"],
            reason=data["reason"],
            refusal=data["refusal"],
            payload=data["payload"],
        )
    except DomainError as e:
        return JsonResponse({"error": " ".join(e.messages), "code": e.code}, status=422)
    return JsonResponse({"discarded": discard.pk})
