"""Linking a resident's document to the line it justifies (R-RES-7): the discharge letter
behind a change, the GP prescription, the capacity assessment and covert plan behind covert
administration (R-RX-8)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from emar.models import User
from emar.services import DomainError, audit_append
from residents.models import DocumentWithdrawal, ResidentDocument

from ..models import LineDocument, PrescriptionLine

__all__ = ["LineDocumentError", "line_document_link"]


class LineDocumentError(DomainError):
    """A link refused; `code` is stable (wrong_resident, document_withdrawn)."""


@transaction.atomic
def line_document_link(
    *, line: PrescriptionLine, document: ResidentDocument, by: User
) -> LineDocument:
    """Link `document` to `line`. The same pair again answers with the first link (a double
    tap links once); a document of another resident, or a withdrawn one, is refused."""
    if document.resident_id != line.resident_id:
        raise LineDocumentError("That document belongs to another resident.", code="wrong_resident")
    if DocumentWithdrawal.objects.filter(document=document).exists():
        raise LineDocumentError(
            "That document was withdrawn and cannot be linked.", code="document_withdrawn"
        )
    if existing := LineDocument.objects.filter(line=line, document=document).first():
        return existing
    try:
        with transaction.atomic():
            link = LineDocument.objects.create(line=line, document=document, linked_by=by)
    except IntegrityError:  # linked by someone else at the same moment
        return LineDocument.objects.get(line=line, document=document)
    audit_append(
        home=line.home_id,
        actor=by,
        action="line.document.linked",
        record=link,
        after={"line": line.pk, "document": document.pk, "title": document.title},
    )
    return link
