"""A resident's documents (R-RES-7, R-SEC-5): the list with its upload form, the file itself
(only through a permission check, never a public or guessable URL) and the withdrawal.

An upload larger than the limit is refused with 413 before its body is read: the view is
exempt from the CSRF middleware (which would read the whole body to find the token) and runs
the same CSRF check itself once the size is known to be acceptable.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from emar import permissions
from emar.permissions import Perm, requires, scoped_get
from emar.services import DomainError
from training.uploads import size_text

from . import documents, forms
from .models import Resident, ResidentDocument

# Room for the form's other fields and the multipart boundaries around the file.
_FORM_OVERHEAD = 64 * 1024


def _resident(request, perm: Perm, resident_id: int) -> Resident:
    return scoped_get(
        request.user, perm, Resident.objects.select_related("home", "unit"), pk=resident_id
    )


def _document(request, perm: Perm, document_id: int) -> ResidentDocument:
    return scoped_get(
        request.user,
        perm,
        ResidentDocument.objects.select_related("resident", "resident__home"),
        home_field="resident__home",
        pk=document_id,
    )


def _documents_page(
    request, resident: Resident, *, form=None, withdraw_form=None, error: str = "", status=200
):
    can_manage = permissions.has_perm(request.user, Perm.MANAGE_RESIDENTS, resident.home)
    if form is None and can_manage:
        initial = {}
        if (rec := request.GET.get("reconciliation", "")).isdigit():
            initial["reconciliation"] = int(rec)
        form = forms.DocumentForm(resident=resident, initial=initial)
    context = {
        "resident": resident,
        "home": resident.home,
        "documents": resident.documents.select_related(  # type: ignore[attr-defined]
            "uploaded_by", "reconciliation", "withdrawal", "withdrawal__withdrawn_by"
        ),
        "form": form if can_manage else None,
        "withdraw_form": withdraw_form or forms.DocumentWithdrawForm(),
        "can_manage": can_manage,
        "max_bytes": documents.document_max_bytes(),
        "max_text": size_text(documents.document_max_bytes()),
        "error": error,
    }
    return render(request, "residents/documents.html", context, status=status)


@csrf_exempt  # checked below, after the size (see the module's docstring)
@requires(Perm.VIEW_RESIDENTS)
def resident_documents(request, resident_id: int):
    """The resident's documents; seniors upload here (POST)."""
    if request.method != "POST":
        return _documents_page(request, _resident(request, Perm.VIEW_RESIDENTS, resident_id))
    resident = _resident(request, Perm.MANAGE_RESIDENTS, resident_id)
    limit = documents.document_max_bytes()
    try:
        length = int(request.headers.get("content-length") or 0)
    except ValueError:
        length = 0
    if length > limit + _FORM_OVERHEAD:
        # Nothing of the body has been read: the server drops the rest (WSGI servers close
        # a connection whose body was not read; a hop-by-hop header is theirs to set).
        return _documents_page(
            request,
            resident,
            error=f"The file is larger than {size_text(limit)}: nothing was uploaded. "
            "Scan it at a lower resolution or split it, and upload that.",
            status=413,
        )
    return _upload(request, resident)


@csrf_protect
def _upload(request, resident: Resident):
    form = forms.DocumentForm(request.POST, request.FILES, resident=resident)
    if form.is_valid():
        data = form.cleaned_data
        try:
            document = documents.document_upload(
                resident=resident,
                by=request.user,
                kind=data["kind"],
                title=data["title"],
                upload=data["upload"],
                reconciliation=data["reconciliation"],
                idempotency_key=data["idempotency_key"],
            )
        except DomainError as e:
            form.add_error("upload" if str(e.code).startswith("upload") else None, e)
        else:
            messages.success(request, f"{document.title} uploaded.")
            return redirect("resident_documents", resident_id=resident.pk)
    return _documents_page(request, resident, form=form, status=400)


@require_GET
@requires(Perm.VIEW_RESIDENTS)
def resident_document(request, document_id: int):
    """The file, to those who may see the resident (R-SEC-5); every read is in the access log
    (audits.services.ACCESS_ALWAYS_LOGGED)."""
    document = _document(request, Perm.VIEW_RESIDENTS, document_id)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing") from None
    response = FileResponse(
        handle, content_type=document.content_type, filename=document.original_name
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@requires(Perm.MANAGE_RESIDENTS)
def document_withdraw(request, document_id: int):
    document = _document(request, Perm.MANAGE_RESIDENTS, document_id)
    form = forms.DocumentWithdrawForm(request.POST)
    if form.is_valid():
        try:
            documents.document_withdraw(
                document=document, by=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, f"{document.title} withdrawn; it stays on the record.")
            return redirect("resident_documents", resident_id=document.resident_id)
    return _documents_page(
        request,
        document.resident,
        withdraw_form=form,
        error="; ".join(m for errs in form.errors.values() for m in errs),
        status=400,
    )
