"""Demo data of the shared core (R-RUN-4): provider, homes, units and staff in every role.

`seed_demo` calls `seed()` of each app's `demo` module in dependency order; each step must be
idempotent (running the command twice duplicates nothing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from emar import services
from emar.auth import pin_set
from emar.models import CareHome, Membership, Provider, Role, Unit, User

DEFAULT_PASSWORD = "emar-demo-2026"
DEMO_PIN = "2468"
PROVIDER = "Demo Care Group"
HOME = "Demo Care Home"
RIVERSIDE = "Demo Riverside"

# username, first, last, initials, role in Demo Care Home (None: see below)
STAFF: tuple[tuple[str, str, str, str, str], ...] = (
    ("manager", "Margaret", "Hughes", "MH", Role.MANAGER),
    ("senior", "Samuel", "Okafor", "SO", Role.SENIOR),
    ("senior2", "Priya", "Nair", "PN", Role.SENIOR),
    ("carer", "Chloe", "Evans", "CE", Role.CARER),
    ("carer2", "Daniel", "Price", "DP", Role.CARER),
    ("carer3", "Aisha", "Begum", "AB", Role.CARER),
)


@dataclass
class DemoContext:
    password: str | None
    provider: Provider | None = None
    home: CareHome | None = None
    riverside: CareHome | None = None
    units: dict[str, Unit] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    created_users: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the command prints after the logins
    now: dt.datetime = field(default_factory=timezone.now)


def _user(ctx: DemoContext, username: str, first: str, last: str, initials: str) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "initials": initials,
            "email": f"{username}@demo.emar.invalid",
        },
    )
    if created or ctx.password:
        user.set_password(ctx.password or DEFAULT_PASSWORD)
        user.save(update_fields=["password"])
    if created:
        ctx.created_users.append(username)
    ctx.users[username] = user
    return user


def _home(ctx: DemoContext, name: str, units: tuple[str, ...]) -> CareHome:
    home = CareHome.objects.filter(name=name).first()
    if home is None:
        home = services.home_create(provider=ctx.provider, name=name)
    for unit_name in units:
        unit = Unit.objects.filter(home=home, name=unit_name).first()
        ctx.units[unit_name] = unit or services.unit_create(home=home, name=unit_name)
    return home


def _role(user: User, home: CareHome, role: str, expires_at: dt.datetime | None = None) -> None:
    current = Membership.objects.filter(user=user, home=home).first()
    in_force = current is not None and current.active and current.role == role
    if in_force and (role != Role.INSPECTOR or current.expires_at > timezone.now()):
        return
    services.membership_set(user=user, home=home, role=role, by=None, expires_at=expires_at)


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    ctx.provider, _ = Provider.objects.get_or_create(name=PROVIDER)
    ctx.home = _home(ctx, HOME, ("Oak", "Willow"))
    ctx.riverside = _home(ctx, RIVERSIDE, ("Riverside",))

    admin = _user(ctx, "admin", "Alex", "Morgan", "AM")
    if admin.admin_of_id != ctx.provider.pk or not admin.is_superuser:
        admin.admin_of = ctx.provider
        admin.is_staff = admin.is_superuser = True  # the Django admin, e.g. for the catalogue
        admin.save(update_fields=["admin_of", "is_staff", "is_superuser"])
    for username, first, last, initials, role in STAFF:
        _role(_user(ctx, username, first, last, initials), ctx.home, role)
    inspector = _user(ctx, "inspector", "Irene", "Walsh", "IW")
    _role(inspector, ctx.home, Role.INSPECTOR, expires_at=ctx.now + dt.timedelta(days=90))
    _role(_user(ctx, "carer_riverside", "Rhys", "Jones", "RJ"), ctx.riverside, Role.CARER)
    _role(_user(ctx, "manager_riverside", "Ruth", "Patel", "RP"), ctx.riverside, Role.MANAGER)
    # Care staff switch user on the shared tablet with a PIN (R-SEC-2).
    for username in ("senior", "senior2", "carer", "carer2", "carer3", "carer_riverside"):
        if not ctx.users[username].pin_hash:
            pin_set(user=ctx.users[username], pin=DEMO_PIN)


LOGINS: tuple[tuple[str, str], ...] = (
    ("admin", "provider admin: every home of Demo Care Group, and the Django admin"),
    ("manager", "manager of Demo Care Home"),
    ("senior", "senior carer of Demo Care Home (also senior2)"),
    ("carer", "carer of Demo Care Home, training in date (also carer3)"),
    ("carer2", "carer of Demo Care Home whose medication training has expired (gated)"),
    ("inspector", "inspector of Demo Care Home, read-only, access ends in 90 days"),
    ("carer_riverside", "carer of Demo Riverside: cannot see Demo Care Home"),
    ("manager_riverside", "manager of Demo Riverside"),
)
