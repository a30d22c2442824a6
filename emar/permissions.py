"""The permission matrix (R-ORG-3): what each role may do, in one place.

Every view names the permission it needs (`requires`), every object lookup goes through
`scoped_get` or a selector built on `homes_for`, and tests/emar/test_permission_matrix.py walks
every URL pattern against every role using this matrix. The README table is generated from it
(`python manage.py permission_matrix`).

Outsiders (no role in the object's home) get 404, never 403, so a URL does not reveal that a
record exists (R-ORG-2, R-SEC-1). Insiders whose role lacks the permission get 403.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import CareHome, Membership, Provider, Role

if TYPE_CHECKING:
    from .models import User

ADMIN = "admin"  # provider admin: every home of the provider (R-ORG-2)
ROLES: tuple[str, ...] = (Role.CARER, Role.SENIOR, Role.MANAGER, Role.INSPECTOR, ADMIN)
STAFF = frozenset({Role.CARER, Role.SENIOR, Role.MANAGER, ADMIN})
SENIORS = frozenset({Role.SENIOR, Role.MANAGER, ADMIN})
MANAGERS = frozenset({Role.MANAGER, ADMIN})
READERS = STAFF | {Role.INSPECTOR}


class Perm(StrEnum):
    VIEW_HOME = "view_home"
    VIEW_RESIDENTS = "view_residents"
    MANAGE_RESIDENTS = "manage_residents"
    VIEW_MAR = "view_mar"
    RECORD_DOSE = "record_dose"
    WITNESS_CD = "witness_cd"
    ENTER_PRESCRIPTION = "enter_prescription"
    CHECK_PRESCRIPTION = "check_prescription"
    MANAGE_STOCK = "manage_stock"
    VIEW_STOCK = "view_stock"
    VIEW_OWN_TRAINING = "view_own_training"
    VIEW_TRAINING_MATRIX = "view_training_matrix"
    ASSESS_COMPETENCY = "assess_competency"
    REPORT_INCIDENT = "report_incident"
    RUN_AUDIT = "run_audit"
    VIEW_REPORTS = "view_reports"
    MANAGE_STAFF = "manage_staff"
    GRANT_INSPECTOR = "grant_inspector"
    CONFIGURE_HOME = "configure_home"
    VIEW_AUDIT_TRAIL = "view_audit_trail"
    MANAGE_API_TOKENS = "manage_api_tokens"
    VIEW_HOME_DASHBOARD = "view_home_dashboard"
    VIEW_PROVIDER_DASHBOARD = "view_provider_dashboard"
    RUN_PAPER_ROUND = "run_paper_round"


MATRIX: dict[Perm, frozenset[str]] = {
    Perm.VIEW_HOME: READERS,
    Perm.VIEW_RESIDENTS: READERS,
    Perm.MANAGE_RESIDENTS: SENIORS,
    Perm.VIEW_MAR: READERS,
    Perm.RECORD_DOSE: STAFF,
    Perm.WITNESS_CD: STAFF,
    Perm.ENTER_PRESCRIPTION: SENIORS,
    Perm.CHECK_PRESCRIPTION: SENIORS,
    Perm.MANAGE_STOCK: SENIORS,
    Perm.VIEW_STOCK: READERS,
    Perm.VIEW_OWN_TRAINING: STAFF,
    Perm.VIEW_TRAINING_MATRIX: SENIORS | {Role.INSPECTOR},
    Perm.ASSESS_COMPETENCY: SENIORS,
    Perm.REPORT_INCIDENT: STAFF,
    Perm.RUN_AUDIT: MANAGERS,
    Perm.VIEW_REPORTS: MANAGERS | {Role.INSPECTOR},
    Perm.MANAGE_STAFF: MANAGERS,
    Perm.GRANT_INSPECTOR: MANAGERS,
    Perm.CONFIGURE_HOME: MANAGERS,
    Perm.VIEW_AUDIT_TRAIL: MANAGERS,
    Perm.MANAGE_API_TOKENS: MANAGERS,
    Perm.VIEW_HOME_DASHBOARD: SENIORS,
    Perm.VIEW_PROVIDER_DASHBOARD: frozenset({ADMIN}),
    Perm.RUN_PAPER_ROUND: MANAGERS,
}

PERM_DESCRIPTIONS: dict[Perm, str] = {
    Perm.VIEW_HOME: "See the home's dashboard, units and rounds",
    Perm.VIEW_RESIDENTS: "See residents, allergies and prescriptions",
    Perm.MANAGE_RESIDENTS: "Admit, move, discharge residents; reconciliation and reviews",
    Perm.VIEW_MAR: "See MAR charts and download them as PDF",
    Perm.RECORD_DOSE: "Record doses on a round (also gated by training, R-MAR-13)",
    Perm.WITNESS_CD: "Witness a controlled drug (also gated by CD competency)",
    Perm.ENTER_PRESCRIPTION: "Enter, stop prescription lines; PRN protocols, covert plans",
    Perm.CHECK_PRESCRIPTION: "Check a transcribed line (not one's own), override allergy warning",
    Perm.MANAGE_STOCK: "Book stock in, stock checks, returns, temperatures",
    Perm.VIEW_STOCK: "See stock balances and the CD register",
    Perm.VIEW_OWN_TRAINING: "See one's own training and competency records",
    Perm.VIEW_TRAINING_MATRIX: "See the training matrix of the home",
    Perm.ASSESS_COMPETENCY: "Record training and competency assessments (not for oneself)",
    Perm.REPORT_INCIDENT: "Report a medicines incident or near miss",
    Perm.RUN_AUDIT: "Prepare, complete and sign the monthly audit",
    Perm.VIEW_REPORTS: "Read signed audit reports and the reports area",
    Perm.MANAGE_STAFF: "Add staff, change or end roles, unlock accounts, reset PINs",
    Perm.GRANT_INSPECTOR: "Grant and end inspector access",
    Perm.CONFIGURE_HOME: "Round times, dose window, timezone, non-administration codes",
    Perm.VIEW_AUDIT_TRAIL: "Read the home's audit trail",
    Perm.MANAGE_API_TOKENS: "List and revoke the API tokens of the home's staff (R-FHIR-4)",
    Perm.VIEW_HOME_DASHBOARD: "See today's medicines dashboard of the home (R-DASH-1)",
    Perm.VIEW_PROVIDER_DASHBOARD: "See every home of the provider on one dashboard (R-DASH-2)",
    Perm.RUN_PAPER_ROUND: "Switch a unit to a paper round and back; back-enter it (R-OFF-4)",
}


def _roles(user: User) -> dict[int, str]:
    """The user's role per home id, computed once per request (one query)."""
    cached = getattr(user, "_emar_roles", None)
    if cached is not None:
        return cached
    roles: dict[int, str] = {}
    if user.is_authenticated and user.is_active:
        if user.admin_of_id:
            roles.update(
                dict.fromkeys(
                    CareHome.objects.filter(provider_id=user.admin_of_id).values_list(
                        "pk", flat=True
                    ),
                    ADMIN,
                )
            )
        for home_id, role in (
            Membership.objects.current().filter(user=user).values_list("home_id", "role")
        ):
            roles.setdefault(home_id, role)
    user._emar_roles = roles  # type: ignore[attr-defined]  # per-request cache on the instance
    return roles


def forget(user: User) -> None:
    """Drop the per-request cache after roles change."""
    if hasattr(user, "_emar_roles"):
        del user._emar_roles


def needs_two_factor(user: User) -> bool:
    """R-SEC-2: managers, provider admins and inspectors must sign in with a one-time code."""
    if not user.is_authenticated:
        return False
    return bool(user.admin_of_id) or any(
        role in (Role.MANAGER, Role.INSPECTOR) for role in _roles(user).values()
    )


def role_in(user: User, home: CareHome | int) -> str | None:
    home_id = home if isinstance(home, int) else home.pk
    return _roles(user).get(home_id)


def perms_in(user: User, home: CareHome | int | None) -> frozenset[Perm]:
    """Every permission the user holds in `home` (empty for outsiders and no home)."""
    role = role_in(user, home) if home is not None else None
    if role is None:
        return frozenset()
    return frozenset(perm for perm, roles in MATRIX.items() if role in roles)


class HomePerms:
    """The caller's permissions in the current home, for templates (like Django's `perms`).

    `{% if home_perms.view_stock %}` and `{% if "view_stock" in home_perms %}` both read the
    matrix above, so menus never restate which role may do what (R-ORG-3).
    """

    __slots__ = ("_perms",)

    def __init__(self, perms: frozenset[Perm]) -> None:
        self._perms = perms

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            perm = Perm(name)
        except ValueError:
            raise AttributeError(f"No permission named {name!r} in the matrix") from None
        return perm in self._perms

    def __contains__(self, name: object) -> bool:
        return name in self._perms

    def __iter__(self):
        return iter(sorted(self._perms))

    def __bool__(self) -> bool:
        return bool(self._perms)

    def __repr__(self) -> str:
        return f"HomePerms({sorted(self._perms)})"


def home_ids_for(user: User, perm: Perm | None = None) -> list[int]:
    roles = _roles(user)
    if perm is None:
        return list(roles)
    allowed = MATRIX[perm]
    return [home_id for home_id, role in roles.items() if role in allowed]


def homes_for(user: User, perm: Perm | None = None) -> QuerySet[CareHome]:
    """Homes the user may see (or may do `perm` in). The root of every scoped selector."""
    return CareHome.objects.filter(pk__in=home_ids_for(user, perm))


def has_perm(user: User, perm: Perm, home: CareHome | int) -> bool:
    role = role_in(user, home)
    return role is not None and role in MATRIX[perm]


def require(user: User, perm: Perm, home: CareHome | int) -> None:
    """404 for outsiders, 403 for insiders whose role lacks `perm`."""
    role = role_in(user, home)
    if role is None:
        raise Http404("No such record")
    if role not in MATRIX[perm]:
        raise PermissionDenied(f"Your role cannot {PERM_DESCRIPTIONS[perm].lower()}.")


def scoped_get(
    user: User, perm: Perm, queryset: QuerySet, *, home_field: str = "home", **lookup: Any
) -> Model:
    """Fetch one object from the user's homes (404 otherwise), then check `perm` (403)."""
    obj = get_object_or_404(queryset.filter(**{f"{home_field}__in": home_ids_for(user)}), **lookup)
    home_id = obj
    for part in home_field.split("__"):
        home_id = getattr(home_id, part)
    require(user, perm, home_id)
    return obj


def require_provider(user: User, perm: Perm, provider_id: int) -> Provider:
    """A provider-wide page: 404 for someone with no role in any of the provider's homes,
    403 unless their role in one of them allows `perm` (the provider admin's, for the
    provider dashboard)."""
    provider = get_object_or_404(Provider, pk=provider_id)
    home_ids = set(CareHome.objects.filter(provider=provider).values_list("pk", flat=True))
    roles = {role for home_id, role in _roles(user).items() if home_id in home_ids}
    if not roles:
        raise Http404("No such record")
    if not roles & MATRIX[perm]:
        raise PermissionDenied(f"Your role cannot {PERM_DESCRIPTIONS[perm].lower()}.")
    return provider


def requires(perm: Perm) -> Callable:
    """Mark a view with the permission it needs and require login.

    A view whose URL carries `home_id` gets the home checked here and passed as `home`; one
    whose URL carries `provider_id` gets the provider checked (`require_provider`) and passed
    as `provider`; views on other objects call `scoped_get` themselves. The permission-matrix
    test reads the mark.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request, *args: Any, **kwargs: Any):
            if "home_id" in kwargs:
                home = get_object_or_404(CareHome, pk=kwargs.pop("home_id"))
                require(request.user, perm, home)
                kwargs["home"] = home
            elif "provider_id" in kwargs:
                kwargs["provider"] = require_provider(request.user, perm, kwargs.pop("provider_id"))
            return view(request, *args, **kwargs)

        wrapped.emar_perm = perm  # type: ignore[attr-defined]
        return login_required(wrapped)

    return decorator
