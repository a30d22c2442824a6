"""Writes of the resident record (R-RES-1..5). Every write appends to the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from emar import selectors as core_selectors
from emar.models import CareHome, Unit, User
from emar.services import DomainError, audit_append, idempotent, notify

from .models import (
    Absence,
    AbsenceKind,
    Allergy,
    AllergyStatus,
    AllergyStatusChange,
    Discrepancy,
    MedicationReview,
    Reconciliation,
    ReconciliationReason,
    ReconciliationSource,
    Resident,
    ResidentStatus,
    UnitMove,
    normalise_nhs_number,
)

PHOTO_MAX_BYTES = 5 * 1024 * 1024
# Magic bytes of the image types we accept (R-SEC-5): the name and the browser's claimed type
# are not trusted.
PHOTO_TYPES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", ".png"),
    (b"WEBP", 8, "image/webp", ".webp"),
)

RECORD_FIELDS = (
    "full_name",
    "preferred_name",
    "date_of_birth",
    "nhs_number",
    "room",
    "gp_practice",
    "pharmacy",
    "weight_kg",
    "weight_date",
    "swallowing_needs",
    "communication_needs",
    "medicine_preferences",
)


def _snapshot(resident: Resident, fields: tuple[str, ...] = RECORD_FIELDS) -> dict[str, Any]:
    return {f: getattr(resident, f) for f in fields}


def _today(home: CareHome) -> dt.date:
    return home.local_today()


def _require_current(resident: Resident) -> None:
    if not resident.is_current:
        raise DomainError(
            f"{resident} is no longer resident ({resident.get_status_display().lower()}).",
            code="not_resident",
        )


def _full_clean(obj: Any, exclude: list[str] | None = None) -> None:
    """Model validation as a domain error with a stable code (the first field error's code)."""
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as e:
        code = "invalid"
        for errors in getattr(e, "error_dict", {}).values():
            code = errors[0].code or code
            break
        raise DomainError("; ".join(e.messages), code=code) from e


def photo_sniff(upload: UploadedFile) -> tuple[str, str]:
    """(content type, suffix) from the file's first bytes, or a DomainError (R-SEC-5)."""
    if upload.size is not None and upload.size > PHOTO_MAX_BYTES:
        raise DomainError("The photo is larger than 5 MB.", code="photo_too_large")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for magic, offset, content_type, suffix in PHOTO_TYPES:
        if head[offset : offset + len(magic)] == magic:
            if content_type == "image/webp" and head[:4] != b"RIFF":
                continue
            return content_type, suffix
    raise DomainError("The photo must be a JPEG, PNG or WebP image.", code="photo_type")


def _store_photo(resident: Resident, upload: UploadedFile) -> None:
    content_type, suffix = photo_sniff(upload)
    resident.photo.save(f"photo{suffix}", upload, save=False)
    resident.photo_content_type = content_type


@idempotent(Resident, scope=lambda home, **_: {"home_id": home.pk})
@transaction.atomic
def resident_admit(
    *,
    home: CareHome,
    unit: Unit,
    by: User,
    admitted_on: dt.date,
    photo: UploadedFile | None = None,
    allergy_status: str = AllergyStatus.UNKNOWN,
    **fields: Any,
) -> Resident:
    """Admit a resident to a unit and room (R-RES-1, R-ORG-1). The first move row records the
    admission. Allergies are recorded separately; "has allergies" needs at least one."""
    if unit.home_id != home.pk:
        raise DomainError("That unit belongs to another home.", code="unit_other_home")
    if admitted_on > _today(home):
        raise DomainError("The admission date cannot be in the future.", code="date_future")
    if allergy_status == AllergyStatus.HAS_ALLERGIES:
        raise DomainError(
            "Record the allergies themselves after admission; until then the status is unknown.",
            code="allergy_list_empty",
        )
    fields["nhs_number"] = normalise_nhs_number(fields.get("nhs_number", ""))
    resident = Resident(
        home=home, unit=unit, admitted_on=admitted_on, allergy_status=allergy_status, **fields
    )
    if (
        fields["nhs_number"]
        and Resident.objects.filter(home=home, nhs_number=fields["nhs_number"]).exists()
    ):
        raise DomainError(
            "A resident with this NHS number already has a record in this home. If they have "
            "come back after a discharge or transfer, readmit that record to keep their history.",
            code="nhs_number_duplicate",
        )
    _full_clean(resident, exclude=["photo"])
    if photo is not None:
        _store_photo(resident, photo)
    resident.save()
    UnitMove.objects.create(
        resident=resident, to_unit=unit, to_room=resident.room, moved_by=by, note="Admission"
    )
    audit_append(
        home=home,
        actor=by,
        action="resident.admitted",
        obj=resident,
        after={
            **_snapshot(resident),
            "unit": unit.name,
            "admitted_on": admitted_on,
            "allergy_status": allergy_status,
        },
    )
    return resident


@transaction.atomic
def resident_update(
    *, resident: Resident, by: User, photo: UploadedFile | None = None, **fields: Any
) -> Resident:
    """Change the record's details (not its unit, status or allergies: those have their own
    services so their history is kept)."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    unknown = set(fields) - set(RECORD_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))} here.", code="bad_field")
    if "room" in fields and fields["room"] != resident.room:
        raise DomainError("Use 'Move' to change the room.", code="use_move")
    before = _snapshot(resident)
    if "nhs_number" in fields:
        fields["nhs_number"] = normalise_nhs_number(fields["nhs_number"])
    for name, value in fields.items():
        setattr(resident, name, value)
    if (
        resident.nhs_number
        and Resident.objects.filter(home_id=resident.home_id, nhs_number=resident.nhs_number)
        .exclude(pk=resident.pk)
        .exists()
    ):
        raise DomainError(
            "Another resident of this home has this NHS number.", code="nhs_number_duplicate"
        )
    _full_clean(resident, exclude=["photo"])
    if photo is not None:
        _store_photo(resident, photo)
    resident.save()
    after = _snapshot(resident)
    changed = {k: v for k, v in after.items() if before[k] != v}
    if photo is not None:
        changed["photo"] = "replaced"
    if changed:
        audit_append(
            home=resident.home_id,
            actor=by,
            action="resident.updated",
            obj=resident,
            before={k: before[k] for k in changed if k in before},
            after=changed,
        )
    return resident


# --- Allergies (R-RES-2, R-RX-11, H-11) ---------------------------------------------------------

# R-RX-11: an allergy added or changed re-checks the resident's medicines. The residents app knows
# nothing of medicines (dependencies point one way), so the medications app registers its
# re-check here when it starts (`MedicationsConfig.ready`). Each runs inside the same transaction
# as the allergy change, so an allergy is never saved without its re-check.
AllergyRecheck = Callable[..., None]
_allergy_rechecks: list[AllergyRecheck] = []


def allergy_recheck_register(recheck: AllergyRecheck) -> None:
    """Register `recheck(resident=, by=)`, called after every allergy add or removal."""
    if recheck not in _allergy_rechecks:
        _allergy_rechecks.append(recheck)


def _allergies_rechecked(resident: Resident, by: User) -> None:
    for recheck in _allergy_rechecks:
        recheck(resident=resident, by=by)


def _reason(reason: str, message: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(message, code="reason_required")
    if len(reason) > 300:
        raise DomainError("Keep the reason under 300 characters.", code="reason_too_long")
    return reason


def _status_change(resident: Resident, by: User, before: str, reason: str) -> None:
    """Store the change with its reason (R-RES-2). A status that becomes unknown tells the
    seniors on shift: every dose stays on the round (R-MAR-16) but a senior must resolve it
    (H-11)."""
    if before == resident.allergy_status:
        return
    change = AllergyStatusChange.objects.create(
        resident=resident,
        from_status=before,
        to_status=resident.allergy_status,
        reason=reason,
        changed_by=by,
    )
    if resident.allergy_status == AllergyStatus.UNKNOWN:
        home = CareHome.objects.get(pk=resident.home_id)
        notify(
            recipients=core_selectors.seniors_on_shift(home, resident.unit),
            home=home,
            kind="allergy_unknown",
            subject=f"resident:{resident.pk}",
            window=str(change.pk),
            title=f"{resident}: allergy status unknown — a senior must resolve it",
            body=(
                f"Changed by {by} because: {reason}. Their medicines stay on the round; check "
                "the allergies with the resident, family, GP or pharmacy and record them."
            ),
            link=reverse("resident_allergies", args=[resident.pk]),
            urgent=True,
        )


@idempotent(Allergy, scope=lambda resident, **_: {"resident_id": resident.pk})
@transaction.atomic
def allergy_add(
    *,
    resident: Resident,
    by: User,
    substance: str,
    reason: str,
    reaction: str = "",
    severity: str = "unknown",
    idempotency_key: UUID | None = None,
) -> Allergy:
    """Record an allergy with where it comes from (R-RES-2), then re-check the resident's live
    medicines against it (R-RX-11)."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    substance = substance.strip()
    if not substance:
        raise DomainError("Name the substance.", code="allergy_substance_required")
    reason = _reason(
        reason, "Say where this allergy comes from (e.g. GP record, reaction seen here)."
    )
    if resident.allergies.filter(removed_at__isnull=True, substance__iexact=substance).exists():
        raise DomainError(f"{substance} is already recorded.", code="allergy_duplicate")
    allergy = Allergy(
        resident=resident,
        substance=substance,
        reaction=reaction.strip(),
        severity=severity,
        recorded_by=by,
        idempotency_key=idempotency_key,
    )
    _full_clean(allergy)
    allergy.save()
    before_status = resident.allergy_status
    resident.allergy_status = AllergyStatus.HAS_ALLERGIES
    resident.save(update_fields=["allergy_status"])
    _status_change(resident, by, before_status, reason)
    audit_append(
        home=resident.home_id,
        actor=by,
        action="allergy.added",
        record=allergy,
        before={"allergy_status": before_status},
        after={
            "substance": substance,
            "reaction": allergy.reaction,
            "severity": severity,
            "reason": reason,
            "allergy_status": resident.allergy_status,
        },
    )
    _allergies_rechecked(resident, by)
    return allergy


# What the status may become when the last allergy is withdrawn (R-RES-2: asked explicitly).
AFTER_LAST_ALLERGY = (AllergyStatus.NONE_KNOWN, AllergyStatus.UNKNOWN)


@transaction.atomic
def allergy_remove(*, allergy: Allergy, by: User, reason: str, new_status: str = "") -> Allergy:
    """Withdraw an allergy recorded in error; the row is kept. Removing the last one asks for
    the new status explicitly, "no known allergies" or "unknown" (R-RES-2); neither ever takes
    a dose off the round (R-MAR-16, H-11)."""
    allergy = Allergy.objects.select_for_update().select_related("resident").get(pk=allergy.pk)
    resident = Resident.objects.select_for_update().get(pk=allergy.resident_id)
    if allergy.removed_at is not None:
        raise DomainError("This allergy was already removed.", code="already_removed")
    reason = _reason(reason, "Say why the allergy is removed.")
    last = not resident.allergies.filter(removed_at__isnull=True).exclude(pk=allergy.pk).exists()
    if last and new_status not in AFTER_LAST_ALLERGY:
        raise DomainError(
            f"This is {resident}'s last recorded allergy: choose the new status, "
            '"no known allergies" or "unknown".',
            code="allergy_new_status_required",
        )
    if not last and new_status not in ("", AllergyStatus.HAS_ALLERGIES):
        raise DomainError(
            'Other allergies are still recorded, so the status stays "has allergies".',
            code="allergies_recorded",
        )
    allergy.removed_at, allergy.removed_by, allergy.removed_reason = timezone.now(), by, reason
    allergy.save(update_fields=["removed_at", "removed_by", "removed_reason"])
    before_status = resident.allergy_status
    if last:
        resident.allergy_status = new_status
        resident.save(update_fields=["allergy_status"])
    _status_change(resident, by, before_status, reason)
    audit_append(
        home=resident.home_id,
        actor=by,
        action="allergy.removed",
        record=allergy,
        before={"substance": allergy.substance, "allergy_status": before_status},
        after={"reason": reason, "allergy_status": resident.allergy_status},
    )
    _allergies_rechecked(resident, by)
    return allergy


@transaction.atomic
def allergy_status_set(*, resident: Resident, by: User, status: str, reason: str) -> Resident:
    """Set the explicit status with a reason (R-RES-2). "No known allergies" cannot hide
    recorded ones and "has allergies" needs the list. Going back to unknown keeps every dose
    on the round and tells the seniors on shift (R-MAR-16, H-11)."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    if status not in AllergyStatus.values:
        raise DomainError("Unknown allergy status.", code="bad_status")
    active = resident.allergies.filter(removed_at__isnull=True).exists()
    if status == AllergyStatus.NONE_KNOWN and active:
        raise DomainError(
            "Allergies are recorded: remove them first if they were entered in error.",
            code="allergies_recorded",
        )
    if status == AllergyStatus.HAS_ALLERGIES and not active:
        raise DomainError("Add the allergies themselves.", code="allergy_list_empty")
    if status == AllergyStatus.UNKNOWN and active:
        raise DomainError(
            "Allergies are recorded, so the status is known.", code="allergies_recorded"
        )
    before = resident.allergy_status
    if before == status:
        return resident
    reason = _reason(reason, "Say why the allergy status changes (e.g. confirmed with the GP).")
    resident.allergy_status = status
    resident.save(update_fields=["allergy_status"])
    _status_change(resident, by, before, reason)
    audit_append(
        home=resident.home_id,
        actor=by,
        action="allergy.status_set",
        obj=resident,
        before={"allergy_status": before},
        after={"allergy_status": status, "reason": reason},
    )
    return resident


# --- Moves and leaving (R-ORG-1, R-RES-5) ------------------------------------------------------


@transaction.atomic
def resident_move(
    *, resident: Resident, by: User, unit: Unit, room: str, note: str = ""
) -> UnitMove:
    """Move a resident to another unit or room; the history is kept as move rows."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    _require_current(resident)
    if unit.home_id != resident.home_id:
        raise DomainError("That unit belongs to another home.", code="unit_other_home")
    room = room.strip()
    if not room:
        raise DomainError("Give the room.", code="room_required")
    if unit.pk == resident.unit_id and room == resident.room:
        raise DomainError("The resident is already in that unit and room.", code="move_same")
    move = UnitMove.objects.create(
        resident=resident,
        from_unit_id=resident.unit_id,
        from_room=resident.room,
        to_unit=unit,
        to_room=room,
        moved_by=by,
        note=note,
    )
    before = {"unit": resident.unit.name, "room": resident.room}
    resident.unit, resident.room = unit, room
    resident.save(update_fields=["unit", "room"])
    audit_append(
        home=resident.home_id,
        actor=by,
        action="resident.moved",
        obj=resident,
        before=before,
        after={"unit": unit.name, "room": room},
    )
    return move


LEAVING = (ResidentStatus.DISCHARGED, ResidentStatus.TRANSFERRED, ResidentStatus.DECEASED)


@transaction.atomic
def resident_leave(
    *, resident: Resident, by: User, status: str, on: dt.date, note: str = ""
) -> Resident:
    """Discharge, transfer or record a death (R-RES-5). Nothing is deleted: the record stays
    readable, and the resident leaves rounds (doses_due skips residents not in the home)."""
    resident = Resident.objects.select_for_update().select_related("home").get(pk=resident.pk)
    _require_current(resident)
    if status not in LEAVING:
        raise DomainError("Choose discharged, transferred or deceased.", code="bad_status")
    if on > _today(resident.home):
        raise DomainError("The date cannot be in the future.", code="date_future")
    if on < resident.admitted_on:
        raise DomainError("The date is before the admission.", code="date_before_admission")
    absence = resident.absences.select_for_update().filter(returned_at__isnull=True).first()
    if absence is not None:
        # Away when they left (died in hospital, discharged from there): the stay ends with the
        # leaving, so a later readmission does not find them still away (R-RES-6).
        started_on = absence.started_at.astimezone(resident.home.tz).date()
        if on < started_on:
            raise DomainError(
                f"{resident} went away on {started_on:%d/%m/%Y}; the leaving date cannot be "
                "before that.",
                code="date_before_absence",
            )
        left_at = dt.datetime.combine(on, dt.time.min, tzinfo=resident.home.tz)
        absence.returned_at = max(absence.started_at, left_at)
        absence.returned_by, absence.ended_by_leaving = by, True
        absence.save(update_fields=["returned_at", "returned_by", "ended_by_leaving"])
    resident.status, resident.left_on, resident.left_note = status, on, note
    resident.save(update_fields=["status", "left_on", "left_note"])
    audit_append(
        home=resident.home_id,
        actor=by,
        action=f"resident.{status}",
        obj=resident,
        before={"status": ResidentStatus.RESIDENT},
        after={
            "status": status,
            "on": on,
            "note": note,
            **({"absence_ended": absence.pk} if absence is not None else {}),
        },
    )
    return resident


# --- Reconciliation (R-RES-3) and reviews (R-RES-4) --------------------------------------------


@idempotent(Reconciliation, scope=lambda resident, **_: {"resident_id": resident.pk})
@transaction.atomic
def reconciliation_start(
    *,
    resident: Resident,
    by: User,
    reason: str,
    arrived_on: dt.date,
    sources: list[str],
    notes: str = "",
    idempotency_key: UUID | None = None,
) -> Reconciliation:
    resident = Resident.objects.select_related("home").get(pk=resident.pk)
    _require_current(resident)
    bad = [s for s in sources if s not in ReconciliationSource.values]
    if bad:
        raise DomainError("Unknown source.", code="bad_source")
    if arrived_on > _today(resident.home):
        raise DomainError("The arrival date cannot be in the future.", code="date_future")
    rec = Reconciliation(
        resident=resident,
        reason=reason,
        arrived_on=arrived_on,
        sources=list(dict.fromkeys(sources)),
        notes=notes,
        started_by=by,
        idempotency_key=idempotency_key,
    )
    _full_clean(rec)
    rec.save()
    audit_append(
        home=resident.home_id,
        actor=by,
        action="reconciliation.started",
        obj=rec,
        after={"reason": reason, "arrived_on": arrived_on, "sources": rec.sources},
    )
    return rec


def _open_reconciliation(rec: Reconciliation) -> Reconciliation:
    rec = Reconciliation.objects.select_for_update().get(pk=rec.pk)
    if rec.completed_at is not None:
        raise DomainError("This reconciliation is complete.", code="reconciliation_complete")
    return rec


@idempotent(Discrepancy, scope=lambda reconciliation, **_: {"reconciliation_id": reconciliation.pk})
@transaction.atomic
def discrepancy_add(
    *,
    reconciliation: Reconciliation,
    by: User,
    description: str,
    resolution: str = "",
    idempotency_key: UUID | None = None,
) -> Discrepancy:
    rec = _open_reconciliation(reconciliation)
    if not description.strip():
        raise DomainError("Describe the discrepancy.", code="description_required")
    now = timezone.now()
    item = Discrepancy.objects.create(
        reconciliation=rec,
        description=description.strip(),
        resolution=resolution.strip(),
        recorded_by=by,
        resolved_by=by if resolution.strip() else None,
        resolved_at=now if resolution.strip() else None,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=rec.resident.home_id,
        actor=by,
        action="reconciliation.discrepancy",
        obj=item,
        after={"description": item.description, "resolution": item.resolution},
    )
    return item


@transaction.atomic
def discrepancy_resolve(*, discrepancy: Discrepancy, by: User, resolution: str) -> Discrepancy:
    item = Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)
    _open_reconciliation(item.reconciliation)
    if item.resolved_at is not None:
        raise DomainError("Already resolved.", code="already_resolved")
    if not resolution.strip():
        raise DomainError("Say how it was resolved.", code="resolution_required")
    item.resolution, item.resolved_by, item.resolved_at = resolution.strip(), by, timezone.now()
    item.save(update_fields=["resolution", "resolved_by", "resolved_at"])
    audit_append(
        home=item.reconciliation.resident.home_id,
        actor=by,
        action="reconciliation.resolved",
        obj=item,
        after={"resolution": item.resolution},
    )
    return item


@transaction.atomic
def reconciliation_complete(*, reconciliation: Reconciliation, by: User) -> Reconciliation:
    """Complete once it names its sources and every discrepancy is resolved (R-RES-3)."""
    rec = _open_reconciliation(reconciliation)
    if not rec.sources:
        raise DomainError("Record at least one source.", code="sources_required")
    if rec.discrepancies.filter(resolved_at__isnull=True).exists():
        raise DomainError(
            "Resolve every discrepancy before completing.", code="discrepancy_unresolved"
        )
    rec.completed_by, rec.completed_at = by, timezone.now()
    rec.save(update_fields=["completed_by", "completed_at"])
    audit_append(
        home=rec.resident.home_id,
        actor=by,
        action="reconciliation.completed",
        obj=rec,
        after={"completed_at": rec.completed_at},
    )
    return rec


@idempotent(MedicationReview, scope=lambda resident, **_: {"resident_id": resident.pk})
@transaction.atomic
def review_record(
    *,
    resident: Resident,
    by: User,
    held_on: dt.date,
    participants: str,
    outcome: str,
    idempotency_key: UUID | None = None,
) -> MedicationReview:
    resident = Resident.objects.select_related("home").get(pk=resident.pk)
    if held_on > _today(resident.home):
        raise DomainError("The review date cannot be in the future.", code="date_future")
    if not participants.strip() or not outcome.strip():
        raise DomainError("Record who took part and the outcome.", code="review_incomplete")
    review = MedicationReview.objects.create(
        resident=resident,
        held_on=held_on,
        participants=participants.strip(),
        outcome=outcome.strip(),
        recorded_by=by,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=resident.home_id,
        actor=by,
        action="review.recorded",
        obj=review,
        after={"held_on": held_on, "participants": review.participants, "outcome": review.outcome},
    )
    return review


# --- Away and back, readmission (R-RES-6, H-16) ------------------------------------------------

# The medications app records the away doses and holds the lines on return; the residents app
# knows nothing of medicines, so it registers `hook(absence=, by=)` here (like the allergy
# re-checks), run in the same transaction as the start or the return.
AbsenceHook = Callable[..., None]
_absence_hooks: list[AbsenceHook] = []


def absence_changed_register(hook: AbsenceHook) -> None:
    if hook not in _absence_hooks:
        _absence_hooks.append(hook)


def _absence_changed(absence: Absence, by: User) -> None:
    for hook in _absence_hooks:
        hook(absence=absence, by=by)


_readmit_hooks: list[Callable[..., None]] = []


def readmitted_register(hook: Callable[..., None]) -> None:
    """`hook(resident=, by=)` after a readmission (medications re-materialises the doses)."""
    if hook not in _readmit_hooks:
        _readmit_hooks.append(hook)


def _readmitted(resident: Resident, by: User) -> None:
    for hook in _readmit_hooks:
        hook(resident=resident, by=by)


def _local(at: dt.datetime, home: CareHome) -> str:
    local = at.astimezone(home.tz)
    return f"{local.day} {local:%b %Y %H:%M}"


@idempotent(Absence, scope=lambda resident, **_: {"resident_id": resident.pk})
@transaction.atomic
def resident_away_start(
    *,
    resident: Resident,
    by: User,
    kind: str,
    started_at: dt.datetime,
    expected_return: dt.date,
    note: str = "",
    idempotency_key: UUID | None = None,
) -> Absence:
    """Mark a resident away from a time, with an expected return (R-RES-6). From then on their
    due doses are recorded H (hospital) or L (leave, respite) by the background job and do not
    escalate (H-16); stock stays where it is."""
    resident = Resident.objects.select_for_update().select_related("home").get(pk=resident.pk)
    home = resident.home
    if not resident.is_current:
        raise DomainError(
            f"{resident} is {resident.get_status_display().lower()}, not living here: readmit "
            "them first.",
            code="not_resident",
        )
    if kind not in AbsenceKind.values:
        raise DomainError("Choose hospital, leave or respite elsewhere.", code="bad_kind")
    if resident.absences.filter(returned_at__isnull=True).exists():
        raise DomainError(
            f"{resident} is already away: record their return first.", code="already_away"
        )
    now = timezone.now()
    if started_at > now + dt.timedelta(minutes=1):
        raise DomainError(
            "The time they left cannot be in the future: mark them away when they go.",
            code="date_future",
        )
    if started_at.astimezone(home.tz).date() < resident.admitted_on:
        raise DomainError("They left before their admission date.", code="date_before_admission")
    last = resident.absences.order_by("-returned_at").values_list("returned_at", flat=True).first()
    if last is not None and started_at < last:
        raise DomainError(
            f"They came back from their last absence at {_local(last, home)}: the time they left "
            "must be after that.",
            code="overlaps_absence",
        )
    if expected_return < started_at.astimezone(home.tz).date():
        raise DomainError(
            "The expected return is before the day they left.", code="expected_before_start"
        )
    note = " ".join((note or "").split())
    if len(note) > 300:
        raise DomainError("Keep the note under 300 characters.", code="note_too_long")
    absence = Absence.objects.create(
        resident=resident,
        kind=kind,
        started_at=started_at,
        expected_return=expected_return,
        note=note,
        started_by=by,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=home,
        actor=by,
        action="resident.away",
        obj=absence,
        after={
            "kind": kind,
            "started_at": started_at,
            "expected_return": expected_return,
            "note": note,
        },
    )
    _absence_changed(absence, by)
    return absence


@transaction.atomic
def resident_return(
    *,
    absence: Absence,
    by: User,
    returned_at: dt.datetime,
    sources: list[str] | None = None,
    notes: str = "",
) -> Absence:
    """Record the resident's return (R-RES-6). It starts a reconciliation (R-RES-3: the
    discharge letter's list against the lines), and holds every line they had until a senior
    confirms it unchanged, changed or stopped: until then their doses are not due (H-16)."""
    absence = (
        Absence.objects.select_for_update().select_related("resident__home").get(pk=absence.pk)
    )
    resident, home = absence.resident, absence.resident.home
    if absence.returned_at is not None:
        raise DomainError(
            f"{resident} already came back at {_local(absence.returned_at, home)}.",
            code="already_returned",
        )
    if returned_at < absence.started_at:
        raise DomainError(
            f"The return cannot be before they left ({_local(absence.started_at, home)}).",
            code="return_before_start",
        )
    if returned_at > timezone.now() + dt.timedelta(minutes=1):
        raise DomainError(
            "The return cannot be in the future: record it when they are back.",
            code="date_future",
        )
    sources = list(dict.fromkeys(sources or []))
    if any(s not in ReconciliationSource.values for s in sources):
        raise DomainError("Unknown source.", code="bad_source")
    rec = Reconciliation(
        resident=resident,
        reason=(
            ReconciliationReason.HOSPITAL_RETURN
            if absence.kind == AbsenceKind.HOSPITAL
            else ReconciliationReason.OTHER
        ),
        arrived_on=returned_at.astimezone(home.tz).date(),
        sources=sources,
        notes=notes.strip(),
        started_by=by,
        lines_held_from=returned_at,
    )
    _full_clean(rec, exclude=["idempotency_key"])
    rec.save()
    absence.returned_at, absence.returned_by, absence.reconciliation = returned_at, by, rec
    absence.save(update_fields=["returned_at", "returned_by", "reconciliation"])
    audit_append(
        home=home,
        actor=by,
        action="resident.returned",
        obj=absence,
        before={"returned_at": None},
        after={"returned_at": returned_at, "reconciliation": rec.pk},
    )
    audit_append(
        home=home,
        actor=by,
        action="reconciliation.started",
        obj=rec,
        after={"reason": rec.reason, "arrived_on": rec.arrived_on, "sources": rec.sources},
    )
    _absence_changed(absence, by)
    return absence


@transaction.atomic
def resident_readmit(
    *, resident: Resident, by: User, admitted_on: dt.date, unit: Unit, room: str, note: str = ""
) -> Resident:
    """Readmit a discharged or transferred resident to the same record, so the NHS number stays
    unique in the home and their whole history stays with them (R-RES-6, R-RES-5). The new
    admission date and the unit and room are a move row; the old ones stay on the trail."""
    resident = Resident.objects.select_for_update().select_related("home").get(pk=resident.pk)
    if resident.status == ResidentStatus.RESIDENT:
        raise DomainError(f"{resident} already lives here.", code="already_resident")
    if resident.status == ResidentStatus.DECEASED:
        raise DomainError(
            f"{resident} is recorded as deceased and cannot be readmitted.", code="deceased"
        )
    if unit.home_id != resident.home_id:
        raise DomainError("That unit belongs to another home.", code="unit_other_home")
    room = room.strip()
    if not room:
        raise DomainError("Give the room.", code="room_required")
    if admitted_on > _today(resident.home):
        raise DomainError("The admission date cannot be in the future.", code="date_future")
    if resident.left_on and admitted_on < resident.left_on:
        raise DomainError(
            f"The readmission cannot be before they left ({resident.left_on.day} "
            f"{resident.left_on:%b %Y}).",
            code="date_before_leaving",
        )
    before = {
        "status": resident.status,
        "left_on": resident.left_on,
        "admitted_on": resident.admitted_on,
        "unit": resident.unit.name,
        "room": resident.room,
    }
    UnitMove.objects.create(
        resident=resident,
        from_unit_id=resident.unit_id,
        from_room=resident.room,
        to_unit=unit,
        to_room=room,
        moved_by=by,
        note="Readmission",
    )
    # Nothing was due while they were gone: their lines are held from the end of the day they
    # left (or from now, back the same day), so those days never show as gaps (R-MAR-2).
    held_from = timezone.now()
    if resident.left_on is not None:
        after_leaving = dt.datetime.combine(
            resident.left_on + dt.timedelta(days=1), dt.time(0), tzinfo=resident.home.tz
        )
        held_from = min(held_from, after_leaving)
    resident.status, resident.left_on, resident.left_note = ResidentStatus.RESIDENT, None, ""
    resident.admitted_on, resident.unit, resident.room = admitted_on, unit, room
    resident.save(update_fields=["status", "left_on", "left_note", "admitted_on", "unit", "room"])
    # Their old lines come back only through a reconciliation a senior confirms line by line.
    rec = Reconciliation.objects.create(
        resident=resident,
        reason=ReconciliationReason.ADMISSION,
        arrived_on=admitted_on,
        started_by=by,
        lines_held_from=held_from,
    )
    audit_append(
        home=resident.home_id,
        actor=by,
        action="resident.readmitted",
        obj=resident,
        before=before,
        after={
            "status": ResidentStatus.RESIDENT,
            "admitted_on": admitted_on,
            "unit": unit.name,
            "room": room,
            "note": note,
            "reconciliation": rec.pk,
        },
    )
    _readmitted(resident, by)
    return resident
