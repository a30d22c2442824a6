"""`python manage.py audit_report --home NAME --month YYYY-MM --out FILE.pdf` (R-RUN-4).

Prepares the audit if needed. A signed audit's report is the stored file, byte for byte (built
now if the worker has not built it yet); an unsigned audit prints as a draft, marked so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audits import reports, services
from audits.models import AuditReport
from emar.models import CareHome


class Command(BaseCommand):
    help = "Write a home's monthly medicines audit report as PDF (preparing the audit if needed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--home", required=True, help="The care home's name.")
        parser.add_argument("--month", required=True, help="The month, YYYY-MM.")
        parser.add_argument("--out", required=True, help="Where to write the PDF.")

    def handle(self, *args, home: str, month: str, out: str, **options) -> None:
        care_home = CareHome.objects.filter(name=home).first()
        if care_home is None:
            raise CommandError(f"No care home called {home!r}.")
        try:
            first = dt.datetime.strptime(month, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
        except ValueError:
            raise CommandError("Give the month as YYYY-MM, e.g. 2026-10.") from None
        try:
            audit = services.audit_prepare(home=care_home, month=first)
        except services.AuditError as e:
            raise CommandError(" ".join(e.messages)) from None
        if audit.is_signed:
            report, _ = AuditReport.objects.get_or_create(audit=audit)
            if not report.is_ready:
                report = services.audit_report_build(report_id=report.pk)
            with report.file.open("rb") as f:
                data = f.read()
            state = f"signed by {audit.signed_by} on {audit.signed_at:%d %b %Y}"
        else:
            data = reports.report_pdf(audit)
            state = "DRAFT (not signed)"
        Path(out).write_bytes(data)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {out} ({len(data):,} bytes): {care_home.name}, {first:%B %Y}, {state}."
            )
        )
