"""A manager's screen of the API tokens of their home's staff, with revoke (R-FHIR-4)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from emar.permissions import Perm, requires

from . import services
from .models import ApiToken


def tokens_of(home):
    return (
        ApiToken.objects.filter(Q(user__memberships__home=home) | Q(user__pharmacy__homes=home))
        .select_related("user", "revoked_by")
        .distinct()
        .order_by("-created_at", "-pk")
    )


@requires(Perm.MANAGE_API_TOKENS)
def api_tokens(request, home):
    return render(
        request,
        "fhir_api/tokens.html",
        {"home": home, "tokens": tokens_of(home), "now": timezone.now()},
    )


@require_POST
@requires(Perm.MANAGE_API_TOKENS)
def api_token_revoke(request, home, token_id: int):
    token = get_object_or_404(tokens_of(home), pk=token_id)
    try:
        services.api_token_revoke(token=token, by=request.user)
    except services.ApiError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, f"The token {token.prefix}… of {token.user} no longer works.")
    return redirect("api_tokens", home_id=home.pk)
