"""The documents linked to a line (R-RES-7): the page lists them and links another of the
resident's documents; the line and its covert plan show the links."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from emar.permissions import Perm, requires
from emar.services import DomainError

from .. import services
from ..forms.documents import LineDocumentForm
from .prescriptions import _line


@requires(Perm.ENTER_PRESCRIPTION)
def line_documents(request, line_id: int):
    line = _line(request, Perm.ENTER_PRESCRIPTION, line_id)
    form = LineDocumentForm(request.POST or None, line=line)
    if request.method == "POST" and form.is_valid():
        try:
            link = services.line_document_link(
                line=line, document=form.cleaned_data["document"], by=request.user
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, f"{link.document.title} linked to {line.medicine.name}.")
            if request.POST.get("back") == "covert_plan":
                return redirect("medications:covert_plan", line_id=line.pk)
            return redirect("medications:line_detail", line_id=line.pk)
    context = {
        "line": line,
        "resident": line.resident,
        "form": form,
        "links": line.document_links.select_related(  # type: ignore[attr-defined]
            "document", "document__uploaded_by", "document__withdrawal", "linked_by"
        ),
        "back": request.GET.get("back", request.POST.get("back", "")),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "medications/line_documents.html", context, status=status)
