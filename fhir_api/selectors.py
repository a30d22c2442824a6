"""What the API may show a user: the same scoping as the screens (R-ORG-2, R-SEC-1), from
`emar.permissions.home_ids_for`, with what each resource needs `select_related` so a page of a
search is a fixed number of queries."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from emar import permissions
from emar import selectors as core_selectors
from emar.models import Role, User
from emar.permissions import Perm
from medications.models import (
    Administration,
    Medicine,
    OrderItem,
    OrderStatus,
    PrescriptionLine,
    PrnProtocol,
    ScheduleVersion,
)
from medications.services import pharmacy_home_ids, pharmacy_of
from residents.models import Allergy, Resident

STAFF_ROLES = (Role.CARER, Role.SENIOR, Role.MANAGER)


def patients(user: User) -> QuerySet[Resident]:
    return (
        Resident.objects.filter(home__in=permissions.home_ids_for(user, Perm.VIEW_RESIDENTS))
        .select_related("home")
        .order_by("pk")
    )


def practitioners(user: User) -> QuerySet[User]:
    """Staff (carers, seniors, managers) with a current role in the user's homes."""
    homes = permissions.home_ids_for(user, Perm.VIEW_HOME)
    staff = core_selectors.staff_memberships_of(homes, STAFF_ROLES)
    return User.objects.filter(pk__in=staff.values("user_id")).order_by("pk")


def allergies(user: User) -> QuerySet[Allergy]:
    return (
        Allergy.objects.filter(
            resident__home__in=permissions.home_ids_for(user, Perm.VIEW_RESIDENTS)
        )
        .select_related("resident")
        .order_by("pk")
    )


def medicines() -> QuerySet[Medicine]:
    """The catalogue is reference data shared by every home (R-RX-1): no home to scope by."""
    return Medicine.objects.order_by("pk")


def lines(user: User) -> QuerySet[PrescriptionLine]:
    return (
        PrescriptionLine.objects.filter(
            home__in=permissions.home_ids_for(user, Perm.VIEW_RESIDENTS)
        )
        .select_related("medicine", "pharmacy_import")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=ScheduleVersion.objects.filter(effective_from__isnull=False).order_by(
                    "-effective_from", "-pk"
                ),
                to_attr="effective_versions",
            ),
            Prefetch(
                "protocols",
                queryset=PrnProtocol.objects.order_by("-written_at", "-pk"),
                to_attr="latest_protocols",
            ),
        )
        .order_by("pk")
    )


def administrations(user: User) -> QuerySet[Administration]:
    return (
        Administration.objects.filter(home__in=permissions.home_ids_for(user, Perm.VIEW_MAR))
        .select_related("line", "code", "witness", "recorded_by", "api_identifier", "corrected_by")
        .order_by("administered_at", "pk")
    )


def order_home_ids(user: User) -> list[int]:
    """Homes whose approved orders a token may read (R-ORD-1): a pharmacy's, the homes it
    supplies; staff's, the homes where their role may see stock."""
    pharmacy = pharmacy_of(user)
    if pharmacy is not None:
        return pharmacy_home_ids(pharmacy)
    return permissions.home_ids_for(user, Perm.VIEW_STOCK)


def supply_requests(user: User) -> QuerySet[OrderItem]:
    """The items of approved orders of the caller's homes, one SupplyRequest each (R-ORD-1); a
    pharmacy sees only the orders sent to it (or to no pharmacy in particular)."""
    qs = OrderItem.objects.filter(
        order__status=OrderStatus.APPROVED, order__home_id__in=order_home_ids(user)
    )
    pharmacy = pharmacy_of(user)
    if pharmacy is not None:
        qs = qs.filter(Q(order__pharmacy=pharmacy) | Q(order__pharmacy__isnull=True))
    return qs.select_related(
        "order",
        "order__home",
        "order__pharmacy",
        "order__approved_by",
        "resident",
        "medicine",
        "line",
    ).order_by("order_id", "pk")
