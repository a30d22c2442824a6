"""Paper rounds (R-OFF-4, H-10, H-13): a manager switches a unit to paper when the network or
the tablets fail, and back; the unit's page then lists one row per dose of the paper period to
back-enter from the paper MAR, each saved by the round's own recording view and service
(`administration_record`: same rules, same idempotency), with the late-entry reason filled in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from emar.forms import Form, IdempotencyKeyMixin
from emar.models import CareHome, NonAdministrationCode, Unit
from emar.permissions import Perm, requires

from .. import rounds
from ..forms.rounds import new_key
from ..models import LATE_REASON_PAPER, PaperRound
from ..services import PaperRoundError, downtime_kit_latest, paper_round_end, paper_round_start


class PaperRoundForm(IdempotencyKeyMixin, Form):
    reason = forms.CharField(
        max_length=300,
        label="Why the unit goes on paper",
        help_text="For example: Wi-Fi down on the first floor; tablets not charging.",
    )


def _unit(home: CareHome, unit_id: int) -> Unit:
    return get_object_or_404(Unit, home=home, pk=unit_id)


def _page(request, home: CareHome, unit: Unit, *, form=None, status: int = 200, error: str = ""):
    recent = list(
        PaperRound.objects.filter(unit=unit).select_related("started_by", "ended_by")[:10]
    )
    chosen = recent[0] if recent else None
    wanted = request.GET.get("paper_round", "")
    if wanted.isdigit():
        chosen = next((p for p in recent if p.pk == int(wanted)), chosen)
    now = timezone.now()
    context = {
        "home": home,
        "unit": unit,
        "form": form or PaperRoundForm(),
        "error": error,
        "open_round": recent[0] if recent and recent[0].is_open else None,
        "recent": recent,
        "chosen": chosen,
        "rows": rounds.paper_round_rows(chosen, now) if chosen else [],
        "codes": NonAdministrationCode.objects.filter(home=home, active=True),
        "new_key": new_key,
        "late_reason": LATE_REASON_PAPER,
        "here": request.get_full_path(),
        # When each unit's downtime kit was last built, for the manager (R-OFF-4, H-10).
        "kits": [(u, downtime_kit_latest(unit=u)) for u in home.units.order_by("name")],
    }
    return render(request, "medications/paper_round.html", context, status=status)


@require_safe
@requires(Perm.RUN_PAPER_ROUND)
def paper_round(request, home: CareHome, unit_id: int):
    """The unit's paper round: switch it to paper and back, and back-enter its doses."""
    return _page(request, home, _unit(home, unit_id))


@require_POST
@requires(Perm.RUN_PAPER_ROUND)
def paper_round_begin(request, home: CareHome, unit_id: int):
    unit = _unit(home, unit_id)
    form = PaperRoundForm(request.POST)
    if not form.is_valid():
        return _page(request, home, unit, form=form, status=400)
    try:
        paper_round_start(
            unit=unit,
            by=request.user,
            reason=form.cleaned_data["reason"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except PaperRoundError as e:
        return _page(request, home, unit, form=form, status=409, error=e.message)
    messages.warning(request, f"{unit.name} is on a paper round: give from the downtime MAR.")
    return redirect(reverse("medications:paper_round", args=[home.pk, unit.pk]))


@require_POST
@requires(Perm.RUN_PAPER_ROUND)
def paper_round_finish(request, home: CareHome, unit_id: int):
    unit = _unit(home, unit_id)
    open_round = PaperRound.objects.filter(unit=unit, ended_at__isnull=True).first()
    if open_round is None:
        return _page(request, home, unit, status=400, error=f"{unit.name} is not on a paper round.")
    try:
        paper_round_end(paper_round=open_round, by=request.user)
    except PaperRoundError as e:
        return _page(request, home, unit, status=403, error=e.message)
    messages.success(request, f"{unit.name} is back on the screen: enter the paper records below.")
    return redirect(
        reverse("medications:paper_round", args=[home.pk, unit.pk])
        + f"?paper_round={open_round.pk}"
    )
