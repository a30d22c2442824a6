"""Services of a resident's documents (R-RES-7, R-SEC-5): upload and withdraw.

A document is checked by its content (a real PDF, PNG or JPEG; a PDF with no active content),
stored under an unguessable name, recorded with its SHA-256 on the audit trail, and never
edited: a wrong upload is withdrawn with a reason and stays readable for the record.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from emar.models import User
from emar.services import DomainError, audit_append, idempotent
from training import uploads

from .models import DocumentKind, DocumentWithdrawal, Reconciliation, Resident, ResidentDocument

__all__ = [
    "DOCUMENT_TYPES",
    "DocumentError",
    "document_max_bytes",
    "document_upload",
    "document_withdraw",
]

DOCUMENT_TYPES = ("application/pdf", "image/png", "image/jpeg")
_SUFFIX = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}


class DocumentError(DomainError):
    """An upload or withdrawal refused; `code` is stable (upload_type, upload_too_large...)."""


def document_max_bytes() -> int:
    """The largest document accepted (`DOCUMENT_UPLOAD_MAX_MB`, default 10 MB)."""
    return int(settings.DOCUMENT_UPLOAD_MAX_MB) * 1024 * 1024


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


@idempotent(ResidentDocument, scope=lambda resident, **_: {"resident_id": resident.pk})
@transaction.atomic
def document_upload(
    *,
    resident: Resident,
    by: User,
    kind: str,
    title: str,
    upload: UploadedFile,
    reconciliation: Reconciliation | None = None,
    idempotency_key: UUID | None = None,
) -> ResidentDocument:
    """Attach a PDF or image to a resident (R-RES-7).

    The content decides the type, never the name (an SVG, or HTML named .jpg, is refused), a
    PDF with JavaScript, actions, embedded files or forms is refused (R-SEC-5), and the size
    limit is checked before anything is written. The file is written only once every check
    has passed, and removed again if the row cannot be recorded, so nothing half-written
    stays on disk or in the database.
    """
    if kind not in DocumentKind.values:
        raise DocumentError("Choose what kind of document this is.", code="bad_kind")
    title = (title or "").strip()
    if not title:
        raise DocumentError("Give the document a title.", code="title_required")
    if reconciliation is not None and reconciliation.resident_id != resident.pk:
        raise DocumentError(
            "That reconciliation is another resident's.", code="wrong_reconciliation"
        )
    try:
        content_type = uploads.check_upload(
            upload, allowed=DOCUMENT_TYPES, max_bytes=document_max_bytes()
        )
    except ValidationError as e:
        raise DocumentError(e.messages[0], code=e.code or "upload_type") from None
    document = ResidentDocument(
        resident=resident,
        kind=kind,
        title=title[:200],
        original_name=uploads.safe_display_name(upload.name or "document"),
        content_type=content_type,
        size=upload.size or 0,
        sha256=_sha256(upload),
        reconciliation=reconciliation,
        uploaded_by=by,
        idempotency_key=idempotency_key,
    )
    # The stored suffix comes from the proven type, not from the name the browser sent.
    document.file.save(f"document{_SUFFIX[content_type]}", upload, save=False)
    try:
        document.save()
        audit_append(
            home=resident.home_id,
            actor=by,
            action="resident.document.uploaded",
            record=document,
            after={
                "kind": kind,
                "title": document.title,
                "content_type": content_type,
                "size": document.size,
                "sha256": document.sha256,
                "reconciliation": reconciliation.pk if reconciliation else None,
            },
        )
    except BaseException:
        document.file.delete(save=False)
        raise
    return document


@transaction.atomic
def document_withdraw(*, document: ResidentDocument, by: User, reason: str) -> DocumentWithdrawal:
    """Withdraw a document uploaded in error (R-RES-7): a new entry with the reason; the
    document and its file are kept. Withdrawing it again answers with the first withdrawal."""
    reason = (reason or "").strip()
    if not reason:
        raise DocumentError("Say why the document is withdrawn.", code="reason_required")
    document = ResidentDocument.objects.select_for_update().get(pk=document.pk)
    if existing := DocumentWithdrawal.objects.filter(document=document).first():
        return existing
    withdrawal = DocumentWithdrawal.objects.create(
        document=document, reason=reason[:300], withdrawn_by=by
    )
    audit_append(
        home=Resident.objects.values_list("home_id", flat=True).get(pk=document.resident_id),
        actor=by,
        action="resident.document.withdrawn",
        record=withdrawal,
        after={"document": document.pk, "title": document.title, "reason": withdrawal.reason},
    )
    return withdrawal
