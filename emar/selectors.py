"""Reads of the shared core, already scoped to the user's homes (R-ORG-2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from . import permissions
from .models import (
    AuditEvent,
    CareHome,
    JobHeartbeat,
    Membership,
    Notification,
    Role,
    Shift,
    Unit,
    User,
)

SESSION_HOME = "emar_home_id"


def current_home(request) -> CareHome | None:
    """The home chosen in the switcher, or the user's first home."""
    if hasattr(request, "_emar_home"):
        return request._emar_home
    home_id = _chosen_home_id(request)
    home = CareHome.objects.filter(pk=home_id).first() if home_id else None
    request._emar_home = home
    return home


def current_home_seed(request, home: CareHome) -> None:
    """When `home` (already loaded by the view) is the one `current_home` would choose, keep it
    so the layout's context does not read it again."""
    if not hasattr(request, "_emar_home") and _chosen_home_id(request) == home.pk:
        request._emar_home = home


def _chosen_home_id(request) -> int | None:
    ids = permissions.home_ids_for(request.user)
    chosen = request.session.get(SESSION_HOME)
    return chosen if chosen in ids else (min(ids) if ids else None)


def units_for(user: User, home: CareHome) -> QuerySet[Unit]:
    return Unit.objects.filter(home=home, home__in=permissions.home_ids_for(user))


def staff_of(home: CareHome) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(home=home)
        .select_related("user", "granted_by")
        .order_by("-active", "role", "user__last_name", "user__username")
    )


def staff_count(home: CareHome) -> int:
    """People whose role here is in force now: ended and expired access are not counted."""
    return Membership.objects.current().filter(home=home).values("user").distinct().count()


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


STAFF_ROLES = (Role.CARER, Role.SENIOR, Role.MANAGER)


def staff_memberships_of(
    homes: CareHome | Iterable[int], roles: Iterable[str], *, at: dt.datetime | None = None
) -> QuerySet[Membership]:
    """Roles in force at `homes` (a home or home ids) among `roles`, of active accounts only.

    The one definition of "the staff of this home with roles X" (R-ORG-2, R-ORG-4): the
    membership is active and not expired (`Membership.current`) and the person's account is not
    deactivated. Every alert, recipient list and staff picker builds on it.
    """
    memberships = Membership.objects.current(at).filter(role__in=list(roles), user__is_active=True)
    if isinstance(homes, CareHome):
        return memberships.filter(home=homes)
    return memberships.filter(home_id__in=list(homes))


def staff_of_home(
    home: CareHome, roles: Iterable[str], *, at: dt.datetime | None = None
) -> QuerySet[User]:
    """People of `home` whose role in force is one of `roles` (see `staff_memberships_of`)."""
    return User.objects.filter(
        pk__in=staff_memberships_of(home, roles, at=at).values("user_id")
    ).order_by("pk")


def _on_shift_ids(home: CareHome, unit: Unit | None) -> QuerySet:
    shifts = Shift.objects.filter(home=home, ended_at__isnull=True)
    if unit is not None:
        shifts = shifts.filter(Q(unit=unit) | Q(unit__isnull=True))
    return shifts.values("user_id")


def on_shift(home: CareHome, unit: Unit | None = None) -> QuerySet[User]:
    """Staff clocked in to `unit` (or, with no unit, anywhere in the home) whose role is still
    in force."""
    return staff_of_home(home, STAFF_ROLES).filter(pk__in=_on_shift_ids(home, unit))


def seniors_on_shift(home: CareHome, unit: Unit | None = None) -> list[User]:
    """Seniors (and managers) on shift for `unit` or the home; with none clocked in, every
    senior and manager of the home, so a safety message always reaches someone who can act
    (R-RES-2, R-RX-11)."""
    seniors = staff_of_home(home, (Role.SENIOR, Role.MANAGER))
    return list(seniors.filter(pk__in=_on_shift_ids(home, unit))) or list(seniors)


def notifications_for(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(
        recipient=user, home_id__in=permissions.home_ids_for(user)
    ).select_related("home")


def unread_count(user: User) -> int:
    """The badge on every page: one indexed query (R-ALR-4)."""
    return notifications_for(user).filter(read_at__isnull=True).count()


# --- the audit trail page: readable changes -----------------------------------------------

# Keys of audit entries whose values are staff account ids: shown as the person's name.
_PERSON_KEYS = frozenset(
    {
        "actor",
        "assessor",
        "by",
        "checked_by",
        "entered_by",
        "granted_by",
        "owner",
        "recorded_by",
        "reported_by",
        "signed_by",
        "staff",
        "stopped_by",
        "user",
        "witness",
    }
)


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class TrailRow:
    event: AuditEvent
    action: str
    changes: list[Change]


def _shown(value, people: dict[int, str], key: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in _PERSON_KEYS and isinstance(value, int):
        return people.get(value, f"account {value}")
    if isinstance(value, list):
        return ", ".join(_shown(v, people, key) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_shown(v, people, k)}" for k, v in value.items())
    return str(value)


def _as_dict(data) -> dict:
    if isinstance(data, dict):
        return data
    return {"value": data} if data not in (None, "") else {}


def audit_trail_rows(events) -> list[TrailRow]:
    """R-SEC-4: the trail as a reader sees it — each change as field, before and after, with
    people's names instead of account ids. One query for the names, whatever the page size."""
    events = list(events)
    ids: set[int] = set()
    for e in events:
        for data in (e.before, e.after):
            if isinstance(data, dict):
                for k, v in data.items():
                    if k in _PERSON_KEYS:
                        ids.update(x for x in (v if isinstance(v, list) else [v]) if type(x) is int)
    people = {u.pk: str(u) for u in User.objects.filter(pk__in=ids)} if ids else {}
    rows = []
    for e in events:
        before = (
            e.before if isinstance(e.before, dict) else ({"value": e.before} if e.before else {})
        )
        after = e.after if isinstance(e.after, dict) else ({"value": e.after} if e.after else {})
        changes = [
            Change(
                field=k.replace("_", " ").capitalize(),
                before=_shown(before.get(k), people, k) if k in before else "",
                after=_shown(after.get(k), people, k) if k in after else "",
            )
            for k in list(before) + [k for k in after if k not in before]
            if before.get(k) != after.get(k) or k not in before or k not in after
        ]
        rows.append(
            TrailRow(
                event=e, action=e.action.replace(".", " · ").replace("_", " "), changes=changes
            )
        )
    return rows


# --- The staff screen (R-ORG-6, R-SEC-6) ---------------------------------------------------------


def staff_split(home: CareHome) -> tuple[list[Membership], list[Membership]]:
    """The home's roles in force now, and the ended or expired ones (history), in one query."""
    from django.utils import timezone

    now = timezone.now()
    current: list[Membership] = []
    ended: list[Membership] = []
    for m in staff_of(home):
        in_force = m.active and (m.expires_at is None or m.expires_at > now)
        (current if in_force else ended).append(m)
    ended.sort(key=lambda m: m.ended_at or m.expires_at or m.granted_at, reverse=True)
    return current, ended


def locked_usernames(usernames: list[str]) -> dict[str, object]:
    """Which of these accounts are locked out of signing in now (django-axes), and until when."""
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.utils import timezone

    cooloff = settings.AXES_COOLOFF_TIME
    until: dict[str, object] = {}
    for username, at in AccessAttempt.objects.filter(
        username__in=usernames,
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        attempt_time__gt=timezone.now() - cooloff,
    ).values_list("username", "attempt_time"):
        ends = at + cooloff
        until[username] = max(until.get(username, ends), ends)
    return until


def witness_locks(home: CareHome) -> QuerySet:
    """Witnesses refused on a tablet now after wrong passwords typed on this home's screens or
    for this home's staff (R-SEC-6)."""
    from django.utils import timezone

    from .models import WitnessThrottle

    return (
        WitnessThrottle.objects.filter(locked_until__gt=timezone.now())
        .filter(
            Q(home=home) | Q(witness__memberships__home=home, witness__memberships__active=True)
        )
        .select_related("witness")
        .distinct()
        .order_by("-locked_until")
    )
