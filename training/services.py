"""Writes and rules of training and competency (R-TRN-1..5), and the one gate in front of
every dose and every CD witness signature (R-TRN-3, R-MAR-13).

The gate's boundary rule, used everywhere (gate, matrix, "my training"): a training record or
an assessment is in date up to and including the day BEFORE its `expires_on` date, and expired
from `expires_on` on. "Today" is the date in the home's timezone at the moment asked about.
An assessment on 3 Oct 2025 expires on 3 Oct 2026: 2 Oct 2026 is its last good day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from emar import permissions
from emar import selectors as core_selectors
from emar.models import CareHome, Membership, Role, User
from emar.permissions import Perm
from emar.request_cache import memo
from emar.services import DomainError, audit_append, idempotent, notify

from . import selectors, uploads
from .models import (
    COMPETENCY_VALIDITY_MONTHS,
    CellStatus,
    CompetencyAssessment,
    CompetencySuspension,
    Course,
    MedicineCategory,
    MedicinesPolicy,
    Outcome,
    PolicyConfirmation,
    TrainingRecord,
    add_months,
)


class TrainingError(DomainError):
    """A training or competency write was refused; `code` is stable."""


class TrainingGateError(DomainError):
    """The person may not give (or witness) this dose now (R-TRN-3, R-MAR-13).

    Codes: `not_staff`, `training_missing`, `training_expired`, `competency_suspended`,
    `competency_missing`, `competency_not_competent`, `competency_expired`. The message says
    why and who can help, ready to show on the round screen.
    """


@dataclass(frozen=True)
class GateRefusal:
    """Why the gate says no: a stable code, a message for the screen, and the date involved."""

    code: str
    message: str
    category: str | None = None
    on: dt.date | None = None

    def error(self) -> TrainingGateError:
        return TrainingGateError(self.message, code=self.code)


def _day(value: dt.date) -> str:
    return f"{value.day} {value:%b %Y}"


def _today(home: CareHome, at: dt.datetime | None = None) -> dt.date:
    return (at or timezone.now()).astimezone(home.tz).date()


def _category(value: str) -> MedicineCategory:
    try:
        return MedicineCategory(value)
    except ValueError:
        raise TrainingError(
            f"{value!r} is not a kind of medicine competency.", code="bad_category"
        ) from None


def who_can_help(home: CareHome, *, person: User) -> str:
    """'ask a senior (Sam Okafor) or the manager (Mia Allen)' from the home's staff list."""
    seniors: list[str] = []
    managers: list[str] = []
    memberships = (
        core_selectors.staff_memberships_of(home, [Role.SENIOR, Role.MANAGER])
        .exclude(user=person)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    )
    for m in memberships:
        (managers if m.role == Role.MANAGER else seniors).append(str(m.user))
    senior = f"a senior ({seniors[0]})" if seniors else "a senior"
    manager = f"the manager ({managers[0]})" if managers else "the manager"
    return f"ask {senior} or {manager}"


def _refusal(
    home: CareHome,
    person: User,
    code: str,
    what: str,
    category: str | None = None,
    on: dt.date | None = None,
) -> GateRefusal:
    return GateRefusal(
        code=code,
        message=f"{what} — {who_can_help(home, person=person)}.",
        category=category,
        on=on,
    )


def _check(
    *, person: User, home: CareHome, category: MedicineCategory, at: dt.datetime, whose: str
) -> GateRefusal | None:
    return _check_all(person=person, home=home, categories=[category], at=at, whose=whose)


@dataclass(frozen=True)
class _GateFacts:
    """Everything the gate reads about one person at one home."""

    training: list[tuple[dt.date, dt.date]]  # safe handling: (completed on, expires on)
    suspensions: list[CompetencySuspension]  # newest first
    assessments: list[CompetencyAssessment]  # newest first


def _gate_facts(*, person: User, home: CareHome) -> _GateFacts:
    """Three queries, once per request (`emar.request_cache`): a round's rows, the record and
    the re-rendered row all ask the same questions of the same person."""

    def read() -> _GateFacts:
        return _GateFacts(
            training=list(
                TrainingRecord.objects.filter(
                    home=home, person=person, course__code=Course.SAFE_HANDLING
                ).values_list("completed_on", "expires_on")
            ),
            suspensions=list(
                CompetencySuspension.objects.filter(home=home, person=person).order_by(
                    "-suspended_at"
                )
            ),
            assessments=list(
                CompetencyAssessment.objects.filter(home=home, person=person).order_by(
                    "-assessed_on", "-pk"
                )
            ),
        )

    return memo(("gate", person.pk, home.pk), read)


def _check_all(
    *,
    person: User,
    home: CareHome,
    categories: list[MedicineCategory],
    at: dt.datetime,
    whose: str,
) -> GateRefusal | None:
    """The first reason `person` may not give a dose needing all of `categories`: medication
    training, then each category's competency in turn. Three queries however many categories
    (a CD given PRN needs three)."""
    today = _today(home, at)
    if not permissions.has_perm(person, Perm.RECORD_DOSE, home):
        return _refusal(home, person, "not_staff", f"{whose} not on the staff of {home}")

    facts = _gate_facts(person=person, home=home)
    training_expiry = max(
        (expires for completed, expires in facts.training if completed <= today), default=None
    )
    if training_expiry is None:
        return _refusal(
            home,
            person,
            "training_missing",
            f"{whose} not recorded as trained in safe handling of medicines",
        )
    if training_expiry <= today:
        return _refusal(
            home,
            person,
            "training_expired",
            f"Safe handling of medicines training expired on {_day(training_expiry)}",
            on=training_expiry,
        )

    suspensions: dict[str, CompetencySuspension] = {}
    for suspension in facts.suspensions:  # newest first
        if (
            suspension.category in categories
            and suspension.suspended_at <= at
            and (suspension.lifted_at is None or suspension.lifted_at > at)
        ):
            suspensions.setdefault(suspension.category, suspension)
    latest_of: dict[str, CompetencyAssessment] = {}
    for assessment in facts.assessments:  # newest first
        if assessment.category in categories and assessment.assessed_on <= today:
            latest_of.setdefault(assessment.category, assessment)

    for category in categories:
        label = f"Medication competency ({category.label})"
        stopped = suspensions.get(category)
        if stopped is not None:
            since = stopped.suspended_at.astimezone(home.tz).date()
            return _refusal(
                home,
                person,
                "competency_suspended",
                f"{label} is suspended since {_day(since)} until reassessed",
                category,
                since,
            )
        latest = latest_of.get(category)
        if latest is None:
            return _refusal(
                home, person, "competency_missing", f"No {label.lower()} is recorded", category
            )
        if not latest.is_competent:
            return _refusal(
                home,
                person,
                "competency_not_competent",
                f"{label} was assessed as not yet competent on {_day(latest.assessed_on)}",
                category,
                latest.assessed_on,
            )
        if latest.expires_on <= today:
            return _refusal(
                home,
                person,
                "competency_expired",
                f"{label} expired on {_day(latest.expires_on)}",
                category,
                latest.expires_on,
            )
    return None


def gate_administration_all(
    *, person: User, home: CareHome, categories: list[str], at: dt.datetime | None = None
) -> None:
    """`gate_administration` for every competency a line needs, in one go (R-MAR-13)."""
    if refusal := _check_all(
        person=person,
        home=home,
        categories=[_category(c) for c in categories],
        at=at or timezone.now(),
        whose="You are",
    ):
        raise refusal.error()


def check_administration(
    *, person: User, home: CareHome, category: str, at: dt.datetime | None = None
) -> GateRefusal | None:
    """Why `person` may not give a dose of `category` at `home` at `at` (default now), or None.

    For screens (grey out a dose and say why). Needs in-date "Safe handling of medicines"
    training AND the latest assessment for the category competent, in date and not suspended
    (R-TRN-3). See the module docstring for the expiry boundary.
    """
    return _check(
        person=person,
        home=home,
        category=_category(category),
        at=at or timezone.now(),
        whose="You are",
    )


def gate_administration(
    *, person: User, home: CareHome, category: str, at: dt.datetime | None = None
) -> None:
    """Raise TrainingGateError unless `person` may give a dose of `category` now (R-MAR-13).

    The MAR calls this for every dose it records as given; a line that needs two kinds of
    competency (e.g. a CD given by injection) is gated once per category.
    """
    if refusal := check_administration(person=person, home=home, category=category, at=at):
        raise refusal.error()


def check_witness(
    *, person: User, home: CareHome, at: dt.datetime | None = None
) -> GateRefusal | None:
    """Why `person` may not witness a controlled drug now, or None (R-TRN-3): needs in-date
    medication training and an in-date controlled-drugs competency."""
    refusal = _check(
        person=person,
        home=home,
        category=MedicineCategory.CONTROLLED_DRUGS,
        at=at or timezone.now(),
        whose=f"The witness ({person}) is",
    )
    if refusal is None:
        return None
    return GateRefusal(
        code=refusal.code,
        message=f"{person} cannot witness: {refusal.message}",
        category=refusal.category,
        on=refusal.on,
    )


def gate_witness(*, person: User, home: CareHome, at: dt.datetime | None = None) -> None:
    """Raise TrainingGateError unless `person` may witness a CD now (same codes as the dose
    gate; the message names the witness)."""
    if refusal := check_witness(person=person, home=home, at=at):
        raise refusal.error()


# --- Recording training and assessments (R-TRN-1, R-TRN-2) ---------------------------------


def _require_assessor(*, by: User, person: User, home: CareHome) -> None:
    """Seniors and managers record training and assessments, never their own (R-TRN-2)."""
    if not permissions.has_perm(by, Perm.ASSESS_COMPETENCY, home):
        raise TrainingError(
            "Only a senior or a manager can record training and competency.", code="not_allowed"
        )
    if by.pk == person.pk:
        raise TrainingError(
            "You cannot record your own training or assess your own competency; ask a colleague.",
            code="not_for_yourself",
        )
    _require_staff(person=person, home=home)


def _require_staff(*, person: User, home: CareHome) -> None:
    staff = core_selectors.staff_memberships_of(home, core_selectors.STAFF_ROLES)
    if not staff.filter(user=person).exists():
        raise TrainingError(f"{person} is not on the staff of {home}.", code="not_staff")


def _check_file(upload: UploadedFile, allowed: tuple[str, ...]) -> str:
    try:
        return uploads.check_upload(upload, allowed=allowed)
    except ValidationError as e:
        raise TrainingError(e.messages[0], code=e.code or "upload_type") from None


@idempotent(
    TrainingRecord, scope=lambda person, home, **_: {"person_id": person.pk, "home_id": home.pk}
)
@transaction.atomic
def training_record_create(
    *,
    person: User,
    home: CareHome,
    course: Course,
    completed_on: dt.date,
    by: User,
    provider: str = "",
    certificate: UploadedFile | None = None,
    idempotency_key: UUID | None = None,
) -> TrainingRecord:
    """Record a completed course (R-TRN-1); expiry = completion + the course's validity.

    A certificate must be a real PDF, PNG or JPEG of at most 5 MB and is stored under an
    unguessable name, served only through a permission-checked view (R-SEC-5).
    """
    _require_assessor(by=by, person=person, home=home)
    if not course.active:
        raise TrainingError(f"{course} is no longer offered.", code="course_inactive")
    if completed_on > _today(home):
        raise TrainingError("The completion date cannot be in the future.", code="date_in_future")
    record = TrainingRecord(
        home=home,
        person=person,
        course=course,
        completed_on=completed_on,
        expires_on=course.expiry_for(completed_on),
        provider=provider.strip(),
        recorded_by=by,
        recorded_at=timezone.now(),
        idempotency_key=idempotency_key,
    )
    if certificate:
        record.certificate_type = _check_file(certificate, uploads.CERTIFICATE_TYPES)
        name = certificate.name or "certificate"
        record.certificate_name = uploads.safe_display_name(name)
        # Written before the row; a rollback leaves an orphan file nobody can reach.
        record.certificate.save(name, certificate, save=False)
    record.save()
    audit_append(
        home=home,
        actor=by,
        action="training.recorded",
        obj=record,
        after={
            "person": person.username,
            "course": course.code,
            "completed_on": completed_on,
            "expires_on": record.expires_on,
            "provider": record.provider,
            "certificate": bool(record.certificate),
        },
    )
    return record


@idempotent(
    CompetencyAssessment,
    scope=lambda person, home, **_: {"person_id": person.pk, "home_id": home.pk},
)
@transaction.atomic
def competency_assess(
    *,
    person: User,
    home: CareHome,
    category: str,
    by: User,
    assessed_on: dt.date,
    outcome: str,
    notes: str = "",
    idempotency_key: UUID | None = None,
) -> CompetencyAssessment:
    """Record an observed competency assessment by `by` (R-TRN-2); it expires 12 months later.

    A competent assessment made on or after the day of a suspension lifts it (R-TRN-3):
    the person is reinstated for that category. A "not yet competent" outcome needs notes.
    """
    category = _category(category)
    _require_assessor(by=by, person=person, home=home)
    if outcome not in Outcome.values:
        raise TrainingError(f"{outcome!r} is not an outcome.", code="bad_outcome")
    if assessed_on > _today(home):
        raise TrainingError("The assessment date cannot be in the future.", code="date_in_future")
    notes = notes.strip()
    if outcome == Outcome.NOT_YET_COMPETENT and not notes:
        raise TrainingError(
            "Say what still needs work when the outcome is not yet competent.",
            code="notes_required",
        )
    assessment = CompetencyAssessment.objects.create(
        home=home,
        person=person,
        category=category,
        assessor=by,
        assessed_on=assessed_on,
        outcome=outcome,
        notes=notes,
        expires_on=add_months(assessed_on, COMPETENCY_VALIDITY_MONTHS),
        recorded_at=timezone.now(),
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=home,
        actor=by,
        action="competency.assessed",
        obj=assessment,
        after={
            "person": person.username,
            "category": category.value,
            "outcome": outcome,
            "assessed_on": assessed_on,
            "expires_on": assessment.expires_on,
        },
    )
    if outcome == Outcome.COMPETENT:
        open_suspensions = CompetencySuspension.objects.select_for_update().filter(
            home=home, person=person, category=category, lifted_at__isnull=True
        )
        for suspension in open_suspensions:
            if suspension.suspended_at.astimezone(home.tz).date() > assessed_on:
                continue  # an assessment from before the incident does not reinstate
            suspension.lifted_at = assessment.recorded_at
            suspension.lifted_by = assessment
            suspension.save(update_fields=["lifted_at", "lifted_by"])
            audit_append(
                home=home,
                actor=by,
                action="competency.reinstated",
                obj=suspension,
                before={"suspended": True},
                after={
                    "person": person.username,
                    "category": category.value,
                    "assessment": assessment.pk,
                },
            )
    return assessment


@transaction.atomic
def competency_suspend(
    *,
    person: User,
    home: CareHome,
    categories: str | Iterable[str],
    reason: str,
    by: User | None,
    incident_ref: str | None = None,
) -> list[CompetencySuspension]:
    """Suspend `person`'s competency for `categories` until a new competent assessment
    (R-TRN-3). Called by the incidents feature for a medicines incident naming the person,
    and by a senior or manager by hand. Idempotent per incident: suspending again for the
    same `incident_ref` while it is still open returns the existing suspension.
    """
    if isinstance(categories, str):
        categories = [categories]
    wanted = list(dict.fromkeys(_category(c) for c in categories))
    if not wanted:
        raise TrainingError("Choose at least one competency to suspend.", code="bad_category")
    reason = (reason or "").strip()
    if not reason:
        raise TrainingError("Give the reason for the suspension.", code="reason_required")
    if not Membership.objects.filter(home=home, user=person).exists():
        raise TrainingError(f"{person} is not on the staff of {home}.", code="not_staff")
    ref = (incident_ref or "").strip()[:64]
    now = timezone.now()
    result: list[CompetencySuspension] = []
    for category in wanted:
        if ref:
            existing = CompetencySuspension.objects.filter(
                home=home,
                person=person,
                category=category,
                incident_ref=ref,
                lifted_at__isnull=True,
            ).first()
            if existing:
                result.append(existing)
                continue
        try:
            with transaction.atomic():
                suspension = CompetencySuspension.objects.create(
                    home=home,
                    person=person,
                    category=category,
                    reason=reason,
                    incident_ref=ref,
                    suspended_by=by,
                    suspended_at=now,
                )
        except IntegrityError:  # the same incident suspended concurrently
            suspension = CompetencySuspension.objects.get(
                home=home,
                person=person,
                category=category,
                incident_ref=ref,
                lifted_at__isnull=True,
            )
            result.append(suspension)
            continue
        audit_append(
            home=home,
            actor=by,
            action="competency.suspended",
            obj=suspension,
            after={
                "person": person.username,
                "category": category.value,
                "reason": reason,
                "incident_ref": ref,
            },
        )
        result.append(suspension)
    return result


# --- Medicines policy (R-TRN-5) --------------------------------------------------------------


@transaction.atomic
def policy_publish(
    *,
    home: CareHome,
    version: str,
    review_on: dt.date,
    document: UploadedFile,
    by: User,
    title: str = "Medicines policy",
) -> MedicinesPolicy:
    """Publish a new version of the home's medicines policy; it becomes the current one and
    everyone must confirm they have read it (R-TRN-5). The document must be a real PDF."""
    if not permissions.has_perm(by, Perm.CONFIGURE_HOME, home):
        raise TrainingError("Only a manager can publish the medicines policy.", code="not_allowed")
    version = version.strip()
    if not version:
        raise TrainingError("Give the version.", code="version_required")
    if MedicinesPolicy.objects.filter(home=home, version=version).exists():
        raise TrainingError(f"Version {version} is already published.", code="version_exists")
    if review_on <= _today(home):
        raise TrainingError("The review date must be after today.", code="review_in_past")
    _check_file(document, uploads.POLICY_TYPES)
    name = document.name or "policy"
    policy = MedicinesPolicy(
        home=home,
        version=version,
        title=title.strip() or "Medicines policy",
        review_on=review_on,
        document_name=uploads.safe_display_name(name),
        published_by=by,
        published_at=timezone.now(),
    )
    policy.document.save(name, document, save=False)
    policy.save()
    audit_append(
        home=home,
        actor=by,
        action="policy.published",
        obj=policy,
        after={"version": version, "review_on": review_on, "title": policy.title},
    )
    return policy


@transaction.atomic
def policy_confirm(*, policy: MedicinesPolicy, person: User) -> PolicyConfirmation:
    """`person` confirms they have read the current policy (R-TRN-5); a second confirmation
    returns the first."""
    if not permissions.has_perm(person, Perm.VIEW_OWN_TRAINING, policy.home_id):
        raise TrainingError("Only staff of the home confirm its policy.", code="not_staff")
    current = selectors.current_policy(policy.home)
    if current is None or current.pk != policy.pk:
        raise TrainingError(
            "This is not the current version of the policy.", code="policy_not_current"
        )
    confirmation, created = PolicyConfirmation.objects.get_or_create(
        policy=policy, person=person, defaults={"confirmed_at": timezone.now()}
    )
    if created:
        audit_append(
            home=policy.home_id,
            actor=person,
            action="policy.confirmed",
            obj=confirmation,
            after={"version": policy.version, "person": person.username},
        )
    return confirmation


def expiry_alerts_send(*, home: CareHome, today: dt.date | None = None) -> int:
    """R-ALR-3: one notification per expiring course or competency to the person and to the
    home's managers; the window is the expiry date, so a renewed record alerts again next time.
    """
    today = today or _today(home)
    matrix = selectors.training_matrix(home, today=today)
    managers = list(core_selectors.staff_of_home(home, [Role.MANAGER]))
    link = reverse("training_matrix", args=[home.pk])
    sent = 0
    for row in matrix.rows:
        items = [
            (course.name, course.code, cell)
            for course, cell in zip(matrix.courses, row.courses, strict=True)
        ] + [
            (category.label + " competency", category.value, cell)
            for category, cell in zip(matrix.categories, row.competencies, strict=True)
        ]
        for label, key, cell in items:
            if cell.status != CellStatus.EXPIRING or cell.expires_on is None:
                continue
            sent += notify(
                recipients=[row.person, *managers],
                home=home,
                kind="training_expiring",
                subject=f"{row.person.pk}:{key}",
                window=cell.expires_on.isoformat(),
                title=f"{row.person}: {label} expires on {_day(cell.expires_on)}",
                body="Book the refresher or reassessment before it expires; after that date "
                "eMAR will not let them record doses of this kind.",
                link=link,
            )
    return sent
