"""Queued records of a tablet that lost the network (R-OFF-1, R-OFF-2, H-13).

A queued dose is sent through the round's own view and `administration_record` (same rules,
same idempotency key); what is here is the way out of a refusal that is not a correction: its
author discards it with a reason, and the discard is kept and audited, never silent."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction

from emar import permissions
from emar.models import User
from emar.permissions import Perm
from emar.services import audit_append

from ..models import OfflineDiscard, ScheduledDose
from .mar import DoseError

__all__ = ["QUEUED_FIELDS", "offline_discard"]

# The fields of the round's dose forms a tablet may queue (never a password: a row that needs a
# witness or a second senior is not queued at all).
QUEUED_FIELDS = (
    "idempotency_key",
    "outcome",
    "code",
    "quantity",
    "quantity_reason",
    "note",
    "late_reason",
    "given_time",
    "body_site",
    "old_patch_removed",
    "covert",
    "queued_at",
    "queued_by",
)


@transaction.atomic
def offline_discard(
    *,
    dose: ScheduledDose,
    by: User,
    idempotency_key: UUID,
    tapped_at: dt.datetime,
    outcome: str,
    reason: str,
    refusal: str = "",
    payload: dict[str, Any] | None = None,
) -> OfflineDiscard:
    """Keep a refused queued record that its author discards, with why (R-OFF-2).

    The key is the queued record's own: sent again (a retry after a lost answer), the first
    discard is returned and nothing more is written. Only the person who made the record
    discards it (R-OFF-5)."""
    if existing := OfflineDiscard.objects.filter(idempotency_key=idempotency_key).first():
        if existing.discarded_by_id != by.pk or existing.dose_id != dose.pk:
            raise DoseError("This record was already discarded by someone else.", code="key_reused")
        return existing
    if not permissions.has_perm(by, Perm.RECORD_DOSE, dose.home):
        raise DoseError("Your role cannot record doses in this home.", code="not_allowed")
    reason = reason.strip()
    if not reason:
        raise DoseError("Say why the record is discarded.", code="reason_required")
    clean = {k: str(v)[:1000] for k, v in (payload or {}).items() if k in QUEUED_FIELDS}
    discard = OfflineDiscard(
        home=dose.home,
        dose=dose,
        discarded_by=by,
        tapped_at=tapped_at,
        outcome=outcome[:16],
        reason=reason[:500],
        refusal=refusal.strip()[:1000],
        payload=clean,
        idempotency_key=idempotency_key,
    )
    try:
        with transaction.atomic():
            discard.save()
    except IntegrityError:  # the same discard, sent twice at once
        return OfflineDiscard.objects.get(idempotency_key=idempotency_key)
    audit_append(
        home=dose.home,
        actor=by,
        action="mar.offline.discarded",
        record=discard,
        after={
            "dose": dose.pk,
            "tapped_at": tapped_at,
            "outcome": discard.outcome,
            "reason": discard.reason,
            "refusal": discard.refusal,
            "payload": clean,
        },
    )
    return discard
