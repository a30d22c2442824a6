"""Reads of the shared core, already scoped to the user's homes (R-ORG-2)."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from . import permissions
from .models import CareHome, JobHeartbeat, Membership, Notification, Role, Shift, Unit, User

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


def open_shift(user: User) -> Shift | None:
    return Shift.objects.filter(user=user, ended_at__isnull=True).select_related("unit").first()


def on_shift(home: CareHome, unit: Unit | None = None) -> QuerySet[User]:
    """Staff clocked in to `unit` (or, with no unit, anywhere in the home) whose role is still
    in force."""
    shifts = Shift.objects.filter(home=home, ended_at__isnull=True)
    if unit is not None:
        shifts = shifts.filter(Q(unit=unit) | Q(unit__isnull=True))
    return User.objects.filter(
        pk__in=shifts.values("user_id"),
        is_active=True,
        memberships__home=home,
        memberships__role__in=[Role.CARER, Role.SENIOR, Role.MANAGER],
        memberships__active=True,
    ).distinct()


def seniors_on_shift(home: CareHome, unit: Unit | None = None) -> list[User]:
    """Seniors (and managers) on shift for `unit` or the home; with none clocked in, every
    senior and manager of the home, so a safety message always reaches someone who can act
    (R-RES-2, R-RX-11)."""
    roles = [Role.SENIOR, Role.MANAGER]
    people = list(
        on_shift(home, unit).filter(
            memberships__home=home, memberships__role__in=roles, memberships__active=True
        )
    )
    if people:
        return people
    return list(
        User.objects.filter(
            is_active=True,
            memberships__home=home,
            memberships__role__in=roles,
            memberships__active=True,
        ).distinct()
    )


def notifications_for(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(
        recipient=user, home_id__in=permissions.home_ids_for(user)
    ).select_related("home")


def unread_count(user: User) -> int:
    """The badge on every page: one indexed query (R-ALR-4)."""
    return notifications_for(user).filter(read_at__isnull=True).count()
