"""Homely remedy authorisations (R-MAR-11, NICE SC1): a resident's GP or pharmacist agrees
which remedies from the home's list may be given to them, recorded by a senior. Giving a
remedy is `homely_remedy_give` (services.mar), which requires an authorisation in force."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from emar import permissions
from emar.models import User
from emar.permissions import Perm
from emar.services import DomainError, audit_append, idempotent
from residents.models import AllergyStatus, Resident, ResidentStatus

from ..models import AuthoriserRole, HomelyRemedy, HomelyRemedyAuthorisation
from ..selectors import allergy_matches

__all__ = [
    "homely_authorisation_record",
    "homely_authorisation_withdraw",
    "homely_authorisations_in_force",
]

# An authorisation is reviewed at least yearly (NICE SC1 asks for a regular review).
MAX_REVIEW = dt.timedelta(days=366)


def _require_senior(by: User, home_id: int, what: str) -> None:
    if not permissions.has_perm(by, Perm.CHECK_PRESCRIPTION, home_id):
        raise DomainError(f"Only a senior carer, nurse or manager can {what}.", code="not_senior")


@idempotent(HomelyRemedyAuthorisation, scope=lambda resident, **_: {"resident_id": resident.pk})
@transaction.atomic
def homely_authorisation_record(
    *,
    resident: Resident,
    remedy: HomelyRemedy,
    by: User,
    authorised_by_name: str,
    authorised_by_role: str,
    authorised_on: dt.date,
    review_date: dt.date,
    exclusions: str,
    idempotency_key: UUID | None = None,
) -> HomelyRemedyAuthorisation:
    """Record that the resident's GP or pharmacist authorised a remedy from the home's list
    (R-MAR-11). It replaces any earlier authorisation of the same remedy for this resident.
    The date authorised is not in the future; the review date is after it and within a year."""
    home = resident.home
    _require_senior(by, home.pk, "record a homely remedy authorisation")
    if remedy.home_id != home.pk or not remedy.active:
        raise DomainError("That remedy is not on this home's list.", code="not_on_list")
    if resident.status != ResidentStatus.RESIDENT:
        raise DomainError(f"{resident} no longer lives here.", code="resident_left")
    if resident.allergy_status == AllergyStatus.UNKNOWN:
        raise DomainError(
            f"{resident}'s allergy status is unknown: record it first, so the GP or pharmacist "
            "authorised the remedy knowing the allergies.",
            code="allergy_status_unknown",
        )
    name, exclusions = authorised_by_name.strip(), exclusions.strip()
    if not name:
        raise DomainError(
            "Enter the name of the GP or pharmacist who authorised it.", code="authoriser_required"
        )
    if authorised_by_role not in AuthoriserRole.values:
        raise DomainError(
            "Only the resident's GP or a pharmacist can authorise a homely remedy.",
            code="authoriser_role",
        )
    if not exclusions:
        raise DomainError(
            "Write the exclusions the GP or pharmacist gave, or 'None'.",
            code="exclusions_required",
        )
    today = home.local_today()
    if authorised_on is None or authorised_on > today:
        raise DomainError(
            "The date authorised cannot be in the future.", code="authorised_in_future"
        )
    if review_date is None or review_date <= today or review_date <= authorised_on:
        raise DomainError("The review date must be after today.", code="review_date_not_future")
    if review_date - authorised_on > MAX_REVIEW:
        raise DomainError(
            "The review date must be within a year of the date authorised.",
            code="review_date_too_far",
        )
    authorisation = HomelyRemedyAuthorisation.objects.create(
        home=home,
        resident=resident,
        remedy=remedy,
        authorised_by_name=name,
        authorised_by_role=authorised_by_role,
        authorised_on=authorised_on,
        review_date=review_date,
        exclusions=exclusions,
        recorded_by=by,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=home,
        actor=by,
        action="mar.homely_remedy.authorised",
        obj=authorisation,
        after={
            "resident": resident.pk,
            "remedy": remedy.medicine.name,
            "authorised_by": f"{name} ({authorised_by_role})",
            "authorised_on": authorised_on,
            "review_date": review_date,
            "exclusions": exclusions,
        },
    )
    return authorisation


@transaction.atomic
def homely_authorisation_withdraw(
    *, authorisation: HomelyRemedyAuthorisation, by: User, reason: str
) -> HomelyRemedyAuthorisation:
    """The GP or pharmacist withdrew the authorisation, or it no longer applies (R-MAR-11)."""
    authorisation = HomelyRemedyAuthorisation.objects.select_for_update().get(pk=authorisation.pk)
    _require_senior(by, authorisation.home_id, "withdraw a homely remedy authorisation")
    if authorisation.withdrawn_at is not None:
        raise DomainError("This authorisation is already withdrawn.", code="already_withdrawn")
    if not reason.strip():
        raise DomainError("Say why it is withdrawn.", code="withdraw_reason_required")
    authorisation.withdrawn_at = timezone.now()
    authorisation.withdrawn_by = by
    authorisation.withdraw_reason = reason.strip()[:300]
    authorisation.save(update_fields=["withdrawn_at", "withdrawn_by", "withdraw_reason"])
    audit_append(
        home=authorisation.home_id,
        actor=by,
        action="mar.homely_remedy.authorisation_withdrawn",
        obj=authorisation,
        after={"reason": authorisation.withdraw_reason},
    )
    return authorisation


def homely_authorisations_in_force(resident: Resident) -> list[HomelyRemedyAuthorisation]:
    """The newest authorisation of each remedy for the resident, not withdrawn (review date
    may have passed: the page shows it as expired)."""
    newest: dict[int, HomelyRemedyAuthorisation] = {}
    for a in (
        HomelyRemedyAuthorisation.objects.filter(resident=resident)
        .select_related("remedy__medicine", "recorded_by")
        .order_by("remedy_id", "-recorded_at", "-pk")
    ):
        newest.setdefault(a.remedy_id, a)
    in_force = [a for a in newest.values() if a.withdrawn_at is None]
    if in_force:
        allergies = list(resident.allergies.filter(removed_at__isnull=True))
        for a in in_force:
            # R-RX-11: shown on the authorisation; giving it needs a second senior (R-MAR-11).
            a.allergy_matches = allergy_matches(a.remedy.medicine, allergies)
    return in_force
