"""A demo discharge letter (R-RES-7): a one-page PDF, made here with WeasyPrint, attached to
Walter Bishop (the resident in hospital, demo/away.py) from his previous stay, and linked to
his first active medicine, so the resident record, the documents page and the line show a
document. Idempotent: nothing is added once he has a discharge letter."""

from __future__ import annotations

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils.html import escape

from medications import services as rx_services
from medications.models import LineStatus, PrescriptionLine
from residents import documents
from residents.models import DocumentKind, Resident

from .away import IN_HOSPITAL
from .organisation import DemoContext

TITLE = "Discharge letter, Royal Infirmary (previous stay)"


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"  # the British way: 2 Apr 1938


def letter_pdf(resident: Resident, *, admitted: dt.date, discharged: dt.date, lines: list) -> bytes:
    """A small, plain discharge letter (no scripts, actions or forms: R-SEC-5)."""
    from weasyprint import HTML

    rows = "".join(
        f"<tr><td>{escape(ln.medicine.name)}</td><td>{escape(ln.dose_text)}</td>"
        "<td>Continue</td></tr>"
        for ln in lines
    )
    html = f"""<html><head><style>
      @page {{ size: A4; margin: 2cm }} body {{ font-family: sans-serif; font-size: 11pt }}
      table {{ border-collapse: collapse; width: 100% }} td, th {{ border: 1px solid #999;
      padding: 4px; text-align: left }}</style></head><body>
      <h1>Royal Infirmary: discharge summary</h1>
      <p><strong>Patient:</strong> {escape(resident.full_name)}, born
      {_day(resident.date_of_birth)}, NHS number {escape(resident.nhs_number_display)}</p>
      <p><strong>Admitted:</strong> {_day(admitted)} after a fall at the care home.
      <strong>Discharged:</strong> {_day(discharged)}, back to the care home.</p>
      <p>No fracture. Mild dehydration treated. Medicines on discharge:</p>
      <table><tr><th>Medicine</th><th>Dose</th><th>Change</th></tr>{rows}</table>
      <p>Demonstration letter made by the eMAR demo data; not a real patient.</p>
      </body></html>"""
    return HTML(string=html).write_pdf()


@transaction.atomic
def seed(ctx: DemoContext) -> None:
    if ctx.home is None:
        return
    walter = Resident.objects.filter(home=ctx.home, full_name=IN_HOSPITAL).first()
    senior = ctx.users.get("senior")
    if walter is None or senior is None:
        return
    if walter.documents.filter(kind=DocumentKind.DISCHARGE_LETTER).exists():
        return
    lines = list(
        PrescriptionLine.objects.filter(resident=walter, status=LineStatus.ACTIVE)
        .select_related("medicine")
        .order_by("pk")
    )
    today = ctx.home.local_today()
    pdf = letter_pdf(
        walter,
        admitted=today - dt.timedelta(days=30),
        discharged=today - dt.timedelta(days=26),
        lines=lines,
    )
    letter = documents.document_upload(
        resident=walter,
        by=senior,
        kind=DocumentKind.DISCHARGE_LETTER,
        title=TITLE,
        upload=SimpleUploadedFile("discharge-letter.pdf", pdf, "application/pdf"),
    )
    if lines:
        rx_services.line_document_link(line=lines[0], document=letter, by=senior)
    ctx.notes.append(f"{walter.full_name} has a discharge letter on his record (documents).")
