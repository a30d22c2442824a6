"""Reads of the shared core, already scoped to the user's homes (R-ORG-2)."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from . import permissions
from .models import CareHome, JobHeartbeat, Membership, Unit, User

SESSION_HOME = "emar_home_id"


def current_home(request) -> CareHome | None:
    """The home chosen in the switcher, or the user's first home."""
    cached = getattr(request, "_emar_home", False)
    if cached is not False:
        return cached
    ids = permissions.home_ids_for(request.user)
    chosen = request.session.get(SESSION_HOME)
    home_id = chosen if chosen in ids else (min(ids) if ids else None)
    home = CareHome.objects.filter(pk=home_id).first() if home_id else None
    request._emar_home = home
    return home


def units_for(user: User, home: CareHome) -> QuerySet[Unit]:
    return Unit.objects.filter(home=home, home__in=permissions.home_ids_for(user))


def staff_of(home: CareHome) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(home=home)
        .select_related("user", "granted_by")
        .order_by("-active", "role", "user__last_name", "user__username")
    )


def homes_overview(user: User) -> QuerySet[CareHome]:
    return (
        permissions.homes_for(user)
        .select_related("provider")
        .annotate(unit_count=Count("units", distinct=True))
        .prefetch_related(Prefetch("units", queryset=Unit.objects.order_by("name")))
        .order_by("name")
    )


def heartbeats() -> QuerySet[JobHeartbeat]:
    return JobHeartbeat.objects.order_by("name")
